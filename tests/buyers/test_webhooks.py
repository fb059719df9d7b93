"""Signed Stripe webhooks through the real intake and event pipeline, into the buyers' handlers."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import pytest

from buyers import services
from buyers.models import Order
from marketplace.events.models import StripeEvent

pytestmark = pytest.mark.django_db

SECRET = "whsec_test_buyers_0123456789"


@pytest.fixture(autouse=True)
def stripe_test_mode(settings):
    from marketplace.events import services as event_services

    settings.STRIPE_SANDBOX = False
    settings.STRIPE_MODE = "test"
    settings.STRIPE_WEBHOOK_SECRETS = [SECRET]
    event_services.sandbox_secrets_forget()
    yield
    event_services.sandbox_secrets_forget()


def post_signed(client, event_type, session_id, n):
    body = json.dumps(
        {
            "id": f"evt_buyers_{n}_{time.time_ns()}",
            "object": "event",
            "api_version": "2026-10-28.endive",
            "created": int(time.time()),
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "type": event_type,
            # Deliberately stale: the handler must ask Stripe for the session's real state.
            "data": {"object": {"id": session_id, "object": "checkout.session", "status": "open"}},
        }
    ).encode()
    t = int(time.time())
    signature = hmac.new(SECRET.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return client.post(
        "/stripe/webhook/",
        data=body,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=f"t={t},v1={signature}",
    )


@pytest.fixture
def order(buyer, listing, fake_stripe):
    order = services.order_create(buyer=buyer, listing_id=listing.pk, quantity=1)
    services.order_checkout_url(order_id=order.pk)
    order.refresh_from_db()
    return order


def test_completed_webhook_before_redirect_marks_paid(
    client, order, fake_stripe, listing, mailoutbox, django_capture_on_commit_callbacks
):
    fake_stripe.pay(order.checkout_session_id)
    with django_capture_on_commit_callbacks(execute=True):
        response = post_signed(client, "checkout.session.completed", order.checkout_session_id, 1)
    assert response.status_code == 200
    event = StripeEvent.objects.get(type="checkout.session.completed")
    assert event.status == StripeEvent.Status.SUCCEEDED, event.last_error
    order.refresh_from_db()
    listing.refresh_from_db()
    assert order.status == Order.Status.PAID and (listing.reserved, listing.sold) == (0, 1)
    assert len(mailoutbox) == 2

    # The buyer's browser comes back afterwards: the order page shows it paid, nothing twice.
    client.force_login(order.buyer)
    response = client.get("/checkout/success/", {"session_id": order.checkout_session_id})
    assert response.status_code == 303
    listing.refresh_from_db()
    assert listing.sold == 1 and len(mailoutbox) == 2


def test_redirect_before_webhook(
    client, order, fake_stripe, listing, django_capture_on_commit_callbacks
):
    fake_stripe.pay(order.checkout_session_id)
    client.force_login(order.buyer)
    client.get("/checkout/success/", {"session_id": order.checkout_session_id})
    with django_capture_on_commit_callbacks(execute=True):
        post_signed(client, "checkout.session.completed", order.checkout_session_id, 2)
    event = StripeEvent.objects.get(type="checkout.session.completed")
    assert event.status == StripeEvent.Status.SUCCEEDED, event.last_error
    listing.refresh_from_db()
    assert (listing.reserved, listing.sold) == (0, 1)


def test_expired_webhook_releases(
    client, order, fake_stripe, listing, django_capture_on_commit_callbacks
):
    fake_stripe.expire(order.checkout_session_id)
    with django_capture_on_commit_callbacks(execute=True):
        post_signed(client, "checkout.session.expired", order.checkout_session_id, 3)
    order.refresh_from_db()
    listing.refresh_from_db()
    assert order.status == Order.Status.EXPIRED and listing.reserved == 0


def test_stripe_unreachable_event_fails_and_is_retried(
    client, order, fake_stripe, django_capture_on_commit_callbacks
):
    fake_stripe.pay(order.checkout_session_id)
    fake_stripe.down = True
    with django_capture_on_commit_callbacks(execute=True):
        post_signed(client, "checkout.session.completed", order.checkout_session_id, 4)
    event = StripeEvent.objects.get(type="checkout.session.completed")
    assert event.status == StripeEvent.Status.FAILED and event.next_attempt_at
    order.refresh_from_db()
    assert order.status == Order.Status.PENDING


def test_bad_signature_changes_nothing(client, order, fake_stripe):
    fake_stripe.pay(order.checkout_session_id)
    body = json.dumps({"id": "evt_x", "type": "checkout.session.completed"}).encode()
    response = client.post(
        "/stripe/webhook/",
        data=body,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=f"t={int(time.time())},v1=deadbeef",
    )
    assert response.status_code == 400
    order.refresh_from_db()
    assert order.status == Order.Status.PENDING and not StripeEvent.objects.exists()
