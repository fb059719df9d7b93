"""The Django admin for Stripe events: list, filters, search, readable payload/error, replay."""

from __future__ import annotations

import pytest
from django.urls import reverse

from marketplace.events import services
from marketplace.events.models import StripeEvent
from tests.events.conftest import CONNECT_URL
from tests.events.signing import make_event
from tests.factories import StaffFactory, UserFactory, log_in_with_totp

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:events_stripeevent_changelist")


@pytest.fixture
def staff_client(client):
    log_in_with_totp(client, StaffFactory())
    return client


def test_list_filters_and_search(staff_client, post_event):
    post_event(
        make_event("account.updated", stripe_id="evt_one", account="acct_A"), url=CONNECT_URL
    )
    post_event(make_event("payout.paid", stripe_id="evt_two"))
    response = staff_client.get(CHANGELIST)
    assert response.status_code == 200
    assert b"evt_one" in response.content and b"evt_two" in response.content
    for query in ["?status__exact=received", "?type=payout.paid", "?source__exact=platform"]:
        assert staff_client.get(CHANGELIST + query).status_code == 200
    filtered = staff_client.get(CHANGELIST + "?type=payout.paid")
    assert b"evt_two" in filtered.content and b"evt_one" not in filtered.content
    by_account = staff_client.get(CHANGELIST + "?account=acct_A")
    assert b"evt_one" in by_account.content and b"evt_two" not in by_account.content
    searched = staff_client.get(CHANGELIST + "?q=acct_A")
    assert b"evt_one" in searched.content and b"evt_two" not in searched.content
    searched = staff_client.get(CHANGELIST + "?q=evt_two")
    assert b"evt_two" in searched.content and b"evt_one" not in searched.content


def test_detail_shows_pretty_payload_and_error_read_only(staff_client, post_event, handlers):
    handlers["account.updated"] = lambda event: 1 / 0
    post_event(make_event("account.updated", stripe_id="evt_err"))
    services.events_drain()
    event = StripeEvent.objects.get()
    response = staff_client.get(reverse("admin:events_stripeevent_change", args=[event.id]))
    assert response.status_code == 200
    html = response.content.decode()
    assert "ZeroDivisionError: division by zero" in html
    assert "Traceback (most recent call last)" in html
    assert "&quot;id&quot;: &quot;evt_err&quot;,\n" in html  # indented JSON, one key per line
    assert 'name="_save"' not in html  # read-only
    assert staff_client.get(reverse("admin:events_stripeevent_add")).status_code == 403


def test_replay_action_requeues_dead_letters(staff_client, post_event, handlers):
    calls = []
    handlers["account.updated"] = lambda event: calls.append(event.stripe_id)
    post_event(make_event(stripe_id="evt_dead"))
    StripeEvent.objects.update(status="dead", attempts=8, last_error="Boom")
    event = StripeEvent.objects.get()
    response = staff_client.post(
        CHANGELIST,
        {"action": "replay", "_selected_action": [event.id]},
        follow=True,
    )
    assert response.status_code == 200
    assert "Re-queued 1 event(s)" in response.content.decode()
    event.refresh_from_db()
    assert (event.status, event.attempts) == ("received", 0)
    services.events_drain()
    assert calls == ["evt_dead"]


def test_non_staff_cannot_see_events(client, post_event):
    post_event(make_event())
    client.force_login(UserFactory())
    response = client.get(CHANGELIST)
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_detail_page_replay_button(staff_client, post_event, handlers):
    calls = []
    handlers["account.updated"] = lambda event: calls.append(event.stripe_id)
    post_event(make_event(stripe_id="evt_btn"))
    StripeEvent.objects.update(status="dead", attempts=8)
    event = StripeEvent.objects.get()
    page = staff_client.get(reverse("admin:events_stripeevent_change", args=[event.id]))
    replay_url = reverse("admin:events_stripeevent_replay", args=[event.id])
    assert replay_url in page.content.decode()
    assert staff_client.get(replay_url).status_code == 405
    response = staff_client.post(replay_url, follow=True)
    assert "Re-queued evt_btn for processing." in response.content.decode()
    services.events_drain()
    assert calls == ["evt_btn"]
    event.refresh_from_db()
    assert event.status == "succeeded"


def test_replay_button_needs_the_change_permission(client, post_event):
    from django.contrib.auth.models import Permission

    post_event(make_event())
    event = StripeEvent.objects.get()
    viewer = StaffFactory(is_superuser=False)
    viewer.user_permissions.add(Permission.objects.get(codename="view_stripeevent"))
    log_in_with_totp(client, viewer)
    page = client.get(reverse("admin:events_stripeevent_change", args=[event.id]))
    assert page.status_code == 200
    replay_url = reverse("admin:events_stripeevent_replay", args=[event.id])
    assert replay_url not in page.content.decode()
    assert client.post(replay_url).status_code == 403
    event.refresh_from_db()
    assert event.status == "received"
