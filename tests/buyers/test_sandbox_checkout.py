"""Checkout through the real SDK against the sandbox: our params pass Stripe's typed validation,
idempotency holds, faults leave the order retryable."""

from __future__ import annotations

import pytest
from django.utils import timezone

from buyers import services
from buyers.models import Order, Purchase
from marketplace import stripe_gateway
from marketplace.errors import PaymentError
from tests.buyers.factories import ListingFactory, SellerFactory
from tests.buyers.sandbox_support import onboarded_account
from tests.factories import UserFactory

pytestmark = [pytest.mark.django_db]


@pytest.fixture(autouse=True)
def _sandbox_client():
    stripe_gateway.reset_client()
    yield
    stripe_gateway.reset_client()


@pytest.fixture
def sandbox_listing(db):
    account = onboarded_account()
    seller = SellerFactory(stripe_account_id=account, user=UserFactory(email="seller@example.com"))
    return ListingFactory(seller=seller, title="Blue mug", price_amount=2500, stock=3)


def sessions():
    from sandbox import store

    return list(store.queryset("checkout.session", account=""))


def test_checkout_session_in_the_sandbox(sandbox_listing, settings):
    settings.SITE_URL = "http://testserver"
    buyer = UserFactory(email="buyer@example.com")
    order = services.order_create(buyer=buyer, listing_id=sandbox_listing.pk, quantity=2)
    url = services.order_checkout_url(order_id=order.pk)
    order.refresh_from_db()
    assert url and order.checkout_session_id.startswith("cs_")
    session = stripe_gateway.checkout_session_retrieve(session_id=order.checkout_session_id)
    assert session.mode == "payment" and session.status == "open"
    assert session.amount_total == 5000 and session.currency == "eur"
    assert session.client_reference_id == f"purchase-{order.purchase_id}"
    assert session.metadata["order_id"] == str(order.pk)
    assert session.customer_email == "buyer@example.com"
    assert abs(session.expires_at - int(order.expires_at.timestamp())) <= 1
    assert session.success_url.endswith("/checkout/success/?session_id={CHECKOUT_SESSION_ID}")


@pytest.mark.parametrize("advanced", [3600, 86400, 30 * 86400])
def test_checkout_works_after_the_sandbox_clock_was_advanced(sandbox_listing, advanced):
    from sandbox import testing

    testing.advance(advanced)
    buyer = UserFactory(email="buyer@example.com")
    order = services.order_create(buyer=buyer, listing_id=sandbox_listing.pk, quantity=1)
    assert services.order_checkout_url(order_id=order.pk)
    order.refresh_from_db()
    session = stripe_gateway.checkout_session_retrieve(session_id=order.checkout_session_id)
    # Stripe sees as much time left as the order has by our clock.
    left = session.expires_at - testing.now()
    assert abs(left - (order.expires_at - timezone.now()).total_seconds()) <= 2
    assert session.status == "open"
    # The units are held once, by this order only.
    sandbox_listing.refresh_from_db()
    assert sandbox_listing.reserved == 1


def test_double_click_one_session_in_the_sandbox(sandbox_listing):
    order = services.order_create(buyer=UserFactory(), listing_id=sandbox_listing.pk, quantity=1)
    first = services.order_checkout_url(order_id=order.pk)
    Purchase.objects.filter(orders=order.pk).update(checkout_session_id=None, checkout_url="")
    assert services.order_checkout_url(order_id=order.pk) == first  # same key: same session
    assert len(sessions()) == 1


def test_stripe_500s_after_retries_leave_the_order_retryable(sandbox_listing):
    from sandbox import testing

    order = services.order_create(buyer=UserFactory(), listing_id=sandbox_listing.pk, quantity=1)
    testing.fail_next(10, "500", path_prefix="/v1/checkout/sessions")
    with pytest.raises(PaymentError):
        services.order_checkout_url(order_id=order.pk)
    order.refresh_from_db()
    assert order.status == Order.Status.PENDING and not order.checkout_session_id
    testing.clear_faults()
    assert services.order_checkout_url(order_id=order.pk)
    assert len(sessions()) == 1


def test_timeout_after_commit_is_retried_with_the_same_key(sandbox_listing):
    from sandbox import testing

    order = services.order_create(buyer=UserFactory(), listing_id=sandbox_listing.pk, quantity=1)
    testing.fail_next(1, "timeout_after", path_prefix="/v1/checkout/sessions")
    assert services.order_checkout_url(order_id=order.pk)
    assert len(sessions()) == 1  # the SDK's retry got the stored response back
