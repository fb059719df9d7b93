from __future__ import annotations

import pytest
from django.utils import timezone

from buyers import services
from buyers.models import Order
from marketplace.events.models import StripeEvent
from marketplace.events.registry import handler_for

pytestmark = pytest.mark.django_db


def event(event_type, session_id):
    return StripeEvent(
        stripe_id=f"evt_{event_type}_{session_id}",
        type=event_type,
        created=timezone.now(),
        payload={
            "id": f"evt_{session_id}",
            "type": event_type,
            # A stale payload: the handler must re-read the session rather than trust this.
            "data": {"object": {"id": session_id, "object": "checkout.session", "status": "open"}},
        },
    )


def run(event_type, session_id):
    handler = handler_for(event_type)
    assert handler is not None, f"no handler for {event_type}"
    handler(event(event_type, session_id))


@pytest.fixture
def order(buyer, listing, fake_stripe):
    order = services.order_create(buyer=buyer, listing_id=listing.pk, quantity=1)
    services.order_checkout_url(order_id=order.pk)
    order.refresh_from_db()
    return order


def test_completed_event_fulfils_webhook_before_redirect(order, fake_stripe, listing):
    fake_stripe.pay(order.checkout_session_id)
    run("checkout.session.completed", order.checkout_session_id)
    order.refresh_from_db()
    listing.refresh_from_db()
    assert order.status == Order.Status.PAID and listing.sold == 1 and listing.reserved == 0
    # Then the buyer's browser arrives on the success page: nothing more happens.
    services.order_fulfil(checkout_session_id=order.checkout_session_id)
    listing.refresh_from_db()
    assert listing.sold == 1


def test_redelivered_completed_event_is_harmless(order, fake_stripe, listing):
    fake_stripe.pay(order.checkout_session_id)
    for _ in range(3):
        run("checkout.session.completed", order.checkout_session_id)
    listing.refresh_from_db()
    assert (listing.reserved, listing.sold) == (0, 1)


def test_async_events(order, fake_stripe, listing):
    fake_stripe.pay(order.checkout_session_id, payment_status="unpaid")
    run("checkout.session.completed", order.checkout_session_id)
    order.refresh_from_db()
    assert order.status == Order.Status.PENDING
    fake_stripe.sessions[order.checkout_session_id]["payment_status"] = "paid"
    run("checkout.session.async_payment_succeeded", order.checkout_session_id)
    order.refresh_from_db()
    assert order.status == Order.Status.PAID


def test_async_failed_event_releases(order, fake_stripe, listing):
    fake_stripe.pay(order.checkout_session_id, payment_status="unpaid")
    run("checkout.session.async_payment_failed", order.checkout_session_id)
    order.refresh_from_db()
    listing.refresh_from_db()
    assert order.status == Order.Status.FAILED and listing.reserved == 0


def test_expired_event_releases(order, fake_stripe, listing):
    fake_stripe.expire(order.checkout_session_id)
    run("checkout.session.expired", order.checkout_session_id)
    order.refresh_from_db()
    listing.refresh_from_db()
    assert order.status == Order.Status.EXPIRED and listing.reserved == 0


def test_expired_event_with_stale_payload_does_not_undo_payment(order, fake_stripe, listing):
    fake_stripe.pay(order.checkout_session_id)
    run("checkout.session.completed", order.checkout_session_id)
    run("checkout.session.expired", order.checkout_session_id)  # out of order, stale
    order.refresh_from_db()
    assert order.status == Order.Status.PAID


def test_unknown_session_is_ignored_not_retried(db, fake_stripe):
    run("checkout.session.completed", "cs_test_not_ours")  # does not raise
