"""Events and their webhook deliveries: signed as Stripe signs, after commit, retried."""

from __future__ import annotations

import json

import pytest
import stripe

from sandbox import delivery, testing
from sandbox.events import emit
from sandbox.models import Delivery


def test_platform_event_is_delivered_signed_and_verifiable(
    hook, receiver, django_capture_on_commit_callbacks
):
    hook("platform")
    with django_capture_on_commit_callbacks(execute=True):
        event = emit("customer.created", {"id": "cus_1", "object": "customer"})
    [received] = receiver.received["platform"]
    assert received.id == event["id"]
    assert received.type == "customer.created"
    assert received.data.object.id == "cus_1"
    assert "account" not in received
    assert Delivery.objects.get(event_id=event["id"]).status == "succeeded"
    assert testing.events(event_type="customer.created")[0]["pending_webhooks"] == 0


def test_signature_matches_what_construct_event_accepts():
    payload = json.dumps({"id": "evt_1", "object": "event"})
    header = delivery.sign(payload, "whsec_test")
    assert stripe.Webhook.construct_event(payload, header, "whsec_test")["id"] == "evt_1"
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(payload, header, "whsec_other")


def test_event_shape_is_stripes(db, settings):
    settings.SANDBOX_WEBHOOK_DELIVERY = "manual"
    testing.register_endpoint("https://example.com/a")
    event = emit(
        "account.updated",
        {"id": "acct_1", "object": "account"},
        account="acct_1",
        previous_attributes={"charges_enabled": False},
    )
    assert event["id"].startswith("evt_") and len(event["id"]) == 28
    assert event["object"] == "event"
    assert event["api_version"] == stripe.api_version
    assert event["account"] == "acct_1"
    assert event["livemode"] is False
    assert event["data"]["previous_attributes"] == {"charges_enabled": False}
    assert event["request"] == {"id": None, "idempotency_key": None}
    # The endpoint is a platform one: a Connect event is not for it.
    assert event["pending_webhooks"] == 0
    assert isinstance(stripe.Event.construct_from(event, "sk_test"), stripe.Event)


def test_connect_events_go_only_to_connect_endpoints(
    hook, receiver, django_capture_on_commit_callbacks
):
    hook("platform")
    hook("connect", connect=True)
    with django_capture_on_commit_callbacks(execute=True):
        emit("account.updated", {"id": "acct_9", "object": "account"}, account="acct_9")
        emit("payment_intent.created", {"id": "pi_1", "object": "payment_intent"})
    assert [e.type for e in receiver.received["connect"]] == ["account.updated"]
    assert receiver.received["connect"][0].account == "acct_9"
    assert [e.type for e in receiver.received["platform"]] == ["payment_intent.created"]


def test_enabled_events_filter(hook, receiver, django_capture_on_commit_callbacks):
    hook("payouts", events=["payout.paid"])
    with django_capture_on_commit_callbacks(execute=True):
        emit("payout.failed", {"id": "po_1", "object": "payout"})
        emit("payout.paid", {"id": "po_2", "object": "payout"})
    assert [e.type for e in receiver.received["payouts"]] == ["payout.paid"]


def test_delivery_waits_for_commit(hook, receiver, django_capture_on_commit_callbacks):
    hook("platform")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        emit("customer.created", {"id": "cus_1", "object": "customer"})
        assert receiver.received == {}
    assert receiver.received == {}  # the transaction never committed
    assert len(callbacks) == 1


def test_failed_delivery_is_retried_with_backoff_on_the_clock(
    hook, receiver, django_capture_on_commit_callbacks
):
    hook("flaky")
    receiver.answers["flaky"] = [500]
    with django_capture_on_commit_callbacks(execute=True):
        event = emit("customer.created", {"id": "cus_1", "object": "customer"})
    item = Delivery.objects.get(event_id=event["id"])
    assert (item.status, item.attempts, item.last_status_code) == ("pending", 1, 500)
    assert item.last_response == "answered 500"
    assert item.next_attempt_at == item.last_attempt_at + delivery.RETRY_DELAYS[0]
    assert receiver.received == {}

    testing.advance(30)  # not due yet
    assert Delivery.objects.get(pk=item.pk).attempts == 1
    testing.advance(31)
    item.refresh_from_db()
    assert (item.status, item.attempts, item.last_status_code) == ("succeeded", 2, 200)
    assert [e.id for e in receiver.received["flaky"]] == [event["id"]]
    assert [h["status"] for h in item.history] == [500, 200]


def test_delivery_gives_up_after_three_days(hook, receiver, django_capture_on_commit_callbacks):
    hook("down")
    receiver.answers["down"] = [500] * 100
    with django_capture_on_commit_callbacks(execute=True):
        event = emit("customer.created", {"id": "cus_1", "object": "customer"})
    for _ in range(12):
        testing.advance(hours=8)
    item = Delivery.objects.get(event_id=event["id"])
    assert item.status == "failed"
    assert item.next_attempt_at is None
    assert 4 < item.attempts < 15


def test_bad_secret_is_rejected_by_the_receiver(hook, receiver, django_capture_on_commit_callbacks):
    hook("platform")
    receiver.secrets["platform"] = "whsec_wrong"
    with django_capture_on_commit_callbacks(execute=True):
        emit("customer.created", {"id": "cus_1", "object": "customer"})
    assert receiver.received == {}
    assert len(receiver.rejected["platform"]) == 1
    assert Delivery.objects.get().last_status_code == 400


def test_manual_mode_queues_until_released_in_any_order(hook, receiver, settings):
    settings.SANDBOX_WEBHOOK_DELIVERY = "manual"
    hook("platform")
    first = emit("customer.created", {"id": "cus_1", "object": "customer"})
    second = emit("customer.updated", {"id": "cus_1", "object": "customer"})
    testing.advance(days=1)  # the clock does not release manual deliveries
    assert receiver.received == {}
    assert len(testing.pending_deliveries()) == 2
    testing.deliver_pending(reverse=True)
    assert [e.id for e in receiver.received["platform"]] == [second["id"], first["id"]]
    testing.redeliver(first["id"])  # a duplicate, as Stripe may send
    assert [e.id for e in receiver.received["platform"]][-1] == first["id"]
    assert testing.pending_deliveries() == []


def test_sdk_call_stamps_the_request_on_the_event(sdk, settings):
    settings.SANDBOX_WEBHOOK_DELIVERY = "manual"
    from sandbox.router import ROUTES, route

    @route("POST", "/v1/test_helpers/sandbox_ping")
    def ping(req):
        emit("customer.created", {"id": "cus_2", "object": "customer"})
        return {"object": "ping"}

    try:
        sdk.raw_request("post", "/v1/test_helpers/sandbox_ping", idempotency_key="k-1")
    finally:
        ROUTES[:] = [r for r in ROUTES if r.pattern != "/v1/test_helpers/sandbox_ping"]
    [event] = testing.events(event_type="customer.created")
    assert event["request"]["idempotency_key"] == "k-1"
    assert event["request"]["id"].startswith("req_")


@pytest.mark.django_db(transaction=True)
def test_thread_mode_delivers_in_the_background_after_commit(hook, receiver, settings):
    import time

    from django.db import transaction

    settings.SANDBOX_WEBHOOK_DELIVERY = "thread"
    hook("platform")
    with transaction.atomic():
        event = emit("customer.created", {"id": "cus_1", "object": "customer"})
        time.sleep(0.2)
        assert receiver.received == {}  # nothing leaves before the commit
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        item = Delivery.objects.filter(event_id=event["id"]).first()
        if item is not None and item.status == "succeeded":
            break
        time.sleep(0.05)
    assert [e.id for e in receiver.received["platform"]] == [event["id"]]
    assert Delivery.objects.get(event_id=event["id"]).status == "succeeded"


def test_management_command_runs_due_retries(hook, receiver, django_capture_on_commit_callbacks):
    from django.core.management import call_command

    hook("flaky")
    receiver.answers["flaky"] = [503]
    with django_capture_on_commit_callbacks(execute=True):
        event = emit("customer.created", {"id": "cus_1", "object": "customer"})
    call_command("sandbox_tick", advance=60)
    assert Delivery.objects.get(event_id=event["id"]).status == "succeeded"


def test_site_endpoints_are_registered_with_fixed_secrets_when_asked(db, settings):
    from sandbox.models import SandboxObject

    settings.SANDBOX_DEFAULT_ENDPOINTS = True
    settings.SANDBOX_WEBHOOK_DELIVERY = "manual"
    emit("customer.created", {"id": "cus_1", "object": "customer"})
    rows = {row.data["url"]: row for row in SandboxObject.objects.filter(object="webhook_endpoint")}
    platform = rows[settings.SITE_URL + "/stripe/webhook/"]
    connect = rows[settings.SITE_URL + "/stripe/webhook/connect/"]
    assert (platform.private["connect"], connect.private["connect"]) == (False, True)
    # With SANDBOX_DEFAULT_ENDPOINTS, settings make the intake accept these secrets.
    assert platform.private["secret"] == settings.SANDBOX_WEBHOOK_SECRET
    assert connect.private["secret"] == settings.SANDBOX_CONNECT_WEBHOOK_SECRET
    [item] = Delivery.objects.all()
    assert item.endpoint_id == platform.id

    # An endpoint deleted by hand is not brought back.
    platform.deleted = True
    platform.save()
    emit("customer.updated", {"id": "cus_1", "object": "customer"})
    assert SandboxObject.objects.filter(object="webhook_endpoint").count() == 2


def test_remote_endpoints_get_a_real_http_post(db, settings, monkeypatch):
    """Endpoints on other hosts are posted to over HTTP (a local server stands in)."""
    import http.server
    import threading

    got: list[tuple[str, str]] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"])).decode()
            got.append((body, self.headers["Stripe-Signature"]))
            self.send_response(503 if len(got) == 1 else 200)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        settings.SANDBOX_WEBHOOK_DELIVERY = "manual"
        endpoint = testing.register_endpoint(f"http://127.0.0.1:{server.server_port}/hook")
        event = emit("customer.created", {"id": "cus_1", "object": "customer"})
        [first] = testing.deliver_pending()
        assert (first.status, first.last_status_code) == ("pending", 503)
        [second] = testing.deliver_pending()
        assert (second.status, second.last_status_code) == ("succeeded", 200)
        body, signature = got[-1]
        verified = stripe.Webhook.construct_event(body, signature, endpoint["secret"])
        assert verified.id == event["id"]
    finally:
        server.shutdown()


def test_unreachable_remote_endpoint_is_retried(db, settings):
    settings.SANDBOX_WEBHOOK_DELIVERY = "manual"
    settings.SANDBOX_WEBHOOK_TIMEOUT = 1
    testing.register_endpoint("http://sandbox-unreachable.invalid/hook")
    emit("customer.created", {"id": "cus_1", "object": "customer"})
    [item] = testing.deliver_pending()
    assert item.status == "pending" and item.last_status_code is None
    assert "URLError" in item.last_error or "Error" in item.last_error
    assert item.next_attempt_at is not None
