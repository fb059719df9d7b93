"""The control page at /sandbox/: panels, CSRF-protected actions, clear messages for bad input."""

from __future__ import annotations

import pytest
from django.test import Client

from sandbox import clock, testing
from sandbox.events import emit
from sandbox.models import Delivery, Fault


@pytest.fixture
def page(client, receiver, db):
    return client


def test_control_page_shows_every_panel_under_a_sandbox_banner(page, sdk):
    from tests.sandbox.test_accounts import create_express

    account = create_express(sdk)
    response = page.get("/sandbox/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "sandbox-banner" in html and "SANDBOX" in html
    for panel in (
        "panel-clock",
        "panel-accounts",
        "panel-events",
        "panel-endpoints",
        "panel-faults",
    ):
        assert panel in html
    assert account.id in html


def test_single_panel_renders_alone_for_htmx(page):
    response = page.get("/sandbox/panel/clock/", HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert b'id="panel-clock"' in response.content
    assert b"<html" not in response.content
    assert page.get("/sandbox/panel/nope/").status_code == 404


def test_actions_need_a_csrf_token(receiver, db):
    strict = Client(enforce_csrf_checks=True)
    response = strict.post("/sandbox/action/advance_clock/", {"seconds": "3600"})
    assert response.status_code == 403
    assert clock.offset() == 0


def test_advance_clock_buttons(page):
    before = clock.now()
    response = page.post("/sandbox/action/advance_clock/", {"seconds": "86400"}, follow=True)
    assert response.status_code == 200
    assert "Clock advanced by 86400" in response.content.decode()
    assert clock.now() - before >= 86400


def test_bad_input_gets_a_message_not_a_500(page):
    response = page.post("/sandbox/action/advance_clock/", {"seconds": "soon"}, follow=True)
    assert response.status_code == 200
    assert "seconds must be a whole number" in response.content.decode()
    response = page.post("/sandbox/action/inject_fault/", {"kind": "boom"}, follow=True)
    assert "unknown fault kind" in response.content.decode()
    assert page.post("/sandbox/action/nope/").status_code == 404
    assert page.get("/sandbox/action/advance_clock/").status_code == 405


def test_fault_injection_from_the_page(page, sdk):
    import stripe

    page.post("/sandbox/action/inject_fault/", {"kind": "429", "count": "1", "latency_ms": "0"})
    assert Fault.objects.get().kind == "429"
    with pytest.raises(stripe.RateLimitError):
        sdk.v1.products.list()
    page.post("/sandbox/action/inject_fault/", {"kind": "500", "count": "5"})
    page.post("/sandbox/action/clear_faults/")
    assert not Fault.objects.exists()


def test_endpoint_create_and_resend(page, hook, receiver, django_capture_on_commit_callbacks):
    hook("platform")
    receiver.answers["platform"] = [500]
    with django_capture_on_commit_callbacks(execute=True):
        event = emit("customer.created", {"id": "cus_1", "object": "customer"})
    assert Delivery.objects.get(event_id=event["id"]).status == "pending"
    response = page.post("/sandbox/action/resend_event/", {"event": event["id"]}, follow=True)
    assert f"{event['id']} resent: 200" in response.content.decode()
    assert [e.id for e in receiver.received["platform"]] == [event["id"]]
    assert Delivery.objects.get(event_id=event["id"]).status == "succeeded"

    response = page.post(
        "/sandbox/action/create_endpoint/",
        {"url": "https://example.com/hook", "enabled_events": "payout.paid, payout.failed"},
        follow=True,
    )
    assert "signing secret is whsec_" in response.content.decode()
    response = page.post("/sandbox/action/create_endpoint/", {"url": "not a url"}, follow=True)
    assert "Invalid URL" in response.content.decode()


def test_express_dashboard_shows_registered_panels(page, sdk):
    from sandbox.panels import DASHBOARD_PANELS, register_dashboard_panel
    from tests.sandbox.test_accounts import create_express, onboarding_link, open_link, submit

    register_dashboard_panel(
        "tests_balance",
        "Balance",
        "sandbox/panels/clock.html",
        lambda account_id: {"now": 0, "offset": 0, "jobs": [account_id]},
    )
    try:
        account = create_express(sdk)
        link = onboarding_link(sdk, account.id)
        submit(page, link, open_link(page, link))
        login = sdk.v1.accounts.login_links.create(account.id)
        from urllib.parse import urlsplit

        html = page.get(urlsplit(login.url).path).content.decode()
        assert 'id="dashboard-tests_balance"' in html
        assert account.id in html
    finally:
        DASHBOARD_PANELS.pop("tests_balance", None)


def test_testing_helpers_advance_and_count(db):
    start = testing.now()
    assert testing.advance(minutes=1, seconds=5) - start >= 65
    testing.fail_next(1, "latency", latency_ms=1)
    assert Fault.objects.count() == 1


def test_closed_control_page_is_for_staff_only(client, settings, db, receiver):
    from tests.factories import StaffFactory, UserFactory

    settings.SANDBOX_CONTROL_OPEN = False
    response = client.get("/sandbox/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert client.post("/sandbox/action/advance_clock/", {"seconds": "60"}).status_code == 302
    assert clock.offset() == 0
    client.force_login(UserFactory())
    assert client.get("/sandbox/").status_code == 403
    client.force_login(StaffFactory())
    assert client.get("/sandbox/").status_code == 200
    assert client.post("/sandbox/action/advance_clock/", {"seconds": "60"}).status_code == 302
    assert clock.offset() == 60
