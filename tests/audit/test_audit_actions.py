"""Each staff action on money writes its audit entry through its own service: refunds, fee rules,
event replays (admin and command line). Suspensions, reconciliation runs and admin edits are in
test_audit_log.py."""

from __future__ import annotations

import uuid
from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from marketplace.audit.models import AuditEntry
from marketplace.events.models import StripeEvent
from payouts.models import FeeRule, RefundRequest
from payouts.services import refund_request_create
from tests.factories import StaffFactory, log_in_with_totp
from tests.payouts.events import deliver
from tests.payouts.factories import SellerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def sale(fake_stripe):
    seller = SellerFactory()
    charge = fake_stripe.sale(account=seller.stripe_account_id, amount=2000, fee=200, order_id=31)
    deliver("charge.succeeded", charge)
    return seller, charge


def test_a_staff_refund_from_the_page_is_logged_with_address_and_amounts(client, sale):
    _, charge = sale
    staff = StaffFactory()
    log_in_with_totp(client, staff)
    data = {
        "amount": "5.00",
        "reason": "requested_by_customer",
        "client_token": str(uuid.uuid4()),
    }
    response = client.post(f"/money/refunds/{charge['id']}/new/", data, REMOTE_ADDR="198.51.100.3")
    assert response.status_code == 302
    request = RefundRequest.objects.get()
    row = AuditEntry.objects.get()
    assert row.action == "refund" and row.via == "web"
    assert (row.actor_id, row.actor, row.ip_address) == (staff.pk, staff.email, "198.51.100.3")
    assert (row.object_type, row.object_id) == ("payouts.refundrequest", str(request.pk))
    assert charge["id"] in row.object_repr and "€5.00" in row.object_repr
    assert row.before == {"charge_id": charge["id"], "refundable": 2000}
    assert row.after["amount"] == 500 and row.after["refundable"] == 1500
    assert row.after["status"] == "succeeded" and row.after["stripe_refund_id"].startswith("re_")
    # The log finds it by the charge id.
    page = client.get(reverse("audit:log") + f"?obj={charge['id']}").content.decode()
    assert request.stripe_refund_id in page


def test_a_sellers_own_refund_is_logged_too_and_a_refused_one_is_not(sale):
    seller, charge = sale
    refund_request_create(
        actor=seller.user,
        charge_id=charge["id"],
        amount=300,
        reason="damaged",
        client_token=uuid.uuid4(),
    )
    from marketplace.errors import UserFacingError

    with pytest.raises(UserFacingError):
        refund_request_create(
            actor=seller.user,
            charge_id=charge["id"],
            amount=99_999,
            reason="damaged",
            client_token=uuid.uuid4(),
        )
    row = AuditEntry.objects.get()
    assert row.actor == seller.user.email and row.via == "system" and row.after["amount"] == 300


def test_fee_rule_set_and_retired_are_logged_with_their_terms(client, log_in_staff):
    staff = log_in_staff()
    today = timezone.now().date().isoformat()
    client.post(
        "/money/fees/new/",
        {"scope": "platform", "starts_on": today, "bps": "800", "cover_eur": "on", "note": "x"},
    )
    rule = FeeRule.objects.get()
    client.post(
        "/money/fees/new/",
        {
            "scope": "platform",
            "starts_on": today,
            "bps": "950",
            "cover_eur": "on",
            "supersedes": str(rule.pk),
        },
    )
    newer = FeeRule.objects.get(supersedes=rule)
    client.post(f"/money/fees/{newer.pk}/retire/")
    created, changed, retired = AuditEntry.objects.order_by("id")
    assert [e.action for e in (created, changed, retired)] == [
        "fee_rule.create",
        "fee_rule.create",
        "fee_rule.retire",
    ]
    assert created.before is None and created.after["bps"] == 800
    assert created.after["currencies"] == ["eur"] and created.after["starts_on"] == today
    assert changed.before["bps"] == 800 and changed.after["bps"] == 950
    assert retired.before["is_active"] is True and retired.after["is_active"] is False
    assert {e.actor for e in (created, changed, retired)} == {staff.email}


def _dead_event(stripe_id):
    return StripeEvent.objects.create(
        stripe_id=stripe_id,
        type="test.nothing_handles_this",
        created=timezone.now(),
        payload={"id": stripe_id, "object": "event"},
        status=StripeEvent.Status.DEAD,
        attempts=8,
    )


def test_event_replays_from_the_admin_and_the_command_line_are_logged(client):
    one, two, three = (_dead_event(f"evt_dead_{n}") for n in range(3))
    staff = StaffFactory()
    log_in_with_totp(client, staff)
    client.post(
        reverse("admin:events_stripeevent_changelist"),
        {"action": "replay", "_selected_action": [one.pk, two.pk]},
    )
    client.post(reverse("admin:events_stripeevent_replay", args=[three.pk]))
    rows = list(AuditEntry.objects.order_by("id"))
    assert [r.object_id for r in rows] == ["evt_dead_0", "evt_dead_1", "evt_dead_2"]
    assert {(r.action, r.actor, r.via) for r in rows} == {("event.replay", staff.email, "admin")}
    assert rows[0].before == {"status": "dead", "attempts": 8}
    assert rows[0].after == {"status": "received", "attempts": 0}

    StripeEvent.objects.filter(pk=one.pk).update(status=StripeEvent.Status.DEAD)
    call_command("stripe_events", "replay", "evt_dead_0", stdout=StringIO())
    last = AuditEntry.objects.order_by("id").last()
    assert last.object_id == "evt_dead_0" and last.via == "command"
    assert last.actor.startswith("manage.py stripe_events replay")
