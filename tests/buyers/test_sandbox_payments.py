"""Buying end to end against the sandbox (the offline Stripe) and the real event pipeline: the
hosted checkout page with Stripe's test cards, 3D Secure, signed webhooks to /stripe/webhook/,
expiry on the sandbox clock, cancel, and a late payment refunded. No fake at the gateway."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from django.db import transaction
from django.urls import reverse

from buyers import services
from buyers.models import Order, Purchase
from marketplace import stripe_gateway
from marketplace.events.models import StripeEvent
from sandbox import testing
from sellers.models import Listing
from tests.buyers.factories import ListingFactory, SellerFactory
from tests.buyers.sandbox_support import SHIPPING_FIELDS, onboarded_account
from tests.factories import UserFactory

pytestmark = [pytest.mark.django_db(transaction=True)]

DECLINES = {
    "4000000000000002": "declined",
    "4000000000009995": "insufficient funds",
    "4000000000009987": "declined",
    "4000000000009979": "declined",
    "4000000000000069": "expired",
    "4000000000000127": "security code",
    "4000000000000119": "error",
}


@pytest.fixture
def sandbox(settings):
    """The sandbox behind the gateway, our webhook endpoints registered with it."""
    from marketplace.events.services import webhook_endpoints_ensure_sandbox

    settings.STRIPE_SANDBOX = True
    settings.SITE_URL = "http://testserver"
    settings.SANDBOX_WEBHOOK_DELIVERY = "inline"
    stripe_gateway.reset_client()
    webhook_endpoints_ensure_sandbox()
    yield
    stripe_gateway.reset_client()


@pytest.fixture
def shop(sandbox):
    seller = SellerFactory(
        stripe_account_id=onboarded_account(), user=UserFactory(email="seller@example.com")
    )
    return ListingFactory(seller=seller, title="Blue mug", price_amount=2500, stock=3)


@pytest.fixture
def buyer_client(client):
    client.force_login(UserFactory(email="buyer@example.com"))
    return client


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def buy(client, listing, quantity=1):
    response = client.post(reverse("buyers:listing_buy", args=[listing.pk]), {"quantity": quantity})
    assert response.status_code == 303, response.status_code
    assert "/sandbox/checkout/cs_" in response["Location"]
    return path_of(response["Location"])


def pay(client, checkout_path, card, email="buyer@example.com"):
    page = client.get(checkout_path)
    assert page.status_code == 200 and "SANDBOX" in page.content.decode()
    return client.post(
        checkout_path,
        {
            "email": email,
            "card_number": card,
            "expiry": "12 / 34",
            "cvc": "123",
            "name": "Ada",
            **SHIPPING_FIELDS,
        },
    )


def stock(listing):
    listing.refresh_from_db()
    return listing.reserved, listing.sold


def test_pay_with_4242_webhook_first_then_the_success_page(shop, buyer_client, mailoutbox):
    checkout_path = buy(buyer_client, shop, quantity=2)
    assert stock(shop) == (2, 0)
    response = pay(buyer_client, checkout_path, "4242 4242 4242 4242")
    assert response.status_code == 302
    assert response["Location"].startswith("http://testserver/checkout/success/?session_id=cs_")

    # The webhook was delivered (inline, signed) when the payment committed: already paid.
    order = Order.objects.get()
    assert order.status == Order.Status.PAID
    event = StripeEvent.objects.get(type="checkout.session.completed")
    assert event.status == StripeEvent.Status.SUCCEEDED
    assert stock(shop) == (0, 2)
    # The shipping address Checkout collected is on the order, for the seller.
    assert order.shipping_name == "Ada Lovelace"
    assert order.shipping_lines == ["12 rue des Lilas", "75011 Paris", "FR"]

    # Stripe's objects. With application_fee_amount, Stripe transfers the whole amount to the
    # seller's account and takes the application fee back from it: the seller nets amount - fee.
    sdk = stripe_gateway.client()
    charge = sdk.v1.charges.retrieve(order.charge_id)
    assert charge.amount == order.amount == 5000
    transfer = sdk.v1.transfers.retrieve(order.transfer_id)
    assert transfer.destination == shop.seller.stripe_account_id
    assert transfer.amount == order.amount
    fee = sdk.v1.application_fees.retrieve(order.application_fee_id)
    assert fee.amount == order.application_fee_amount == 530
    assert fee.account == shop.seller.stripe_account_id
    assert order.receipt_url

    # Then the browser comes back: the success page finds the work done.
    page = buyer_client.get(path_of(response["Location"]), follow=True)
    assert "Paid" in page.content.decode() and "Payment receipt" in page.content.decode()
    assert stock(shop) == (0, 2)
    assert {m.to[0] for m in mailoutbox} == {"buyer@example.com", "seller@example.com"}


def test_success_page_before_the_webhook(shop, buyer_client, settings):
    settings.SANDBOX_WEBHOOK_DELIVERY = "manual"
    checkout_path = buy(buyer_client, shop)
    response = pay(buyer_client, checkout_path, "4242424242424242")
    page = buyer_client.get(path_of(response["Location"]), follow=True)
    assert "Paid" in page.content.decode()
    assert stock(shop) == (0, 1)
    testing.deliver_pending()  # now the webhooks arrive
    event = StripeEvent.objects.get(type="checkout.session.completed")
    assert event.status == StripeEvent.Status.SUCCEEDED
    assert stock(shop) == (0, 1) and Order.objects.get().status == Order.Status.PAID


@pytest.mark.parametrize("card", sorted(DECLINES))
def test_declined_card_shows_the_error_and_keeps_the_reservation(shop, buyer_client, card):
    checkout_path = buy(buyer_client, shop)
    response = pay(buyer_client, checkout_path, card)
    assert response.status_code == 402
    assert DECLINES[card] in response.content.decode().lower()
    order = Order.objects.get()
    assert order.status == Order.Status.PENDING and stock(shop) == (1, 0)
    # The session stays open: a good card then goes through.
    response = pay(buyer_client, checkout_path, "4242424242424242")
    assert response.status_code == 302
    order.refresh_from_db()
    assert order.status == Order.Status.PAID and stock(shop) == (0, 1)


def test_3d_secure_approved(shop, buyer_client):
    checkout_path = buy(buyer_client, shop)
    response = pay(buyer_client, checkout_path, "4000002500003155")
    assert response.status_code == 302 and "/sandbox/authenticate/pi_" in response["Location"]
    assert Order.objects.get().status == Order.Status.PENDING
    response = buyer_client.post(path_of(response["Location"]), {"outcome": "approve"})
    assert response["Location"].startswith("http://testserver/checkout/success/")
    assert Order.objects.get().status == Order.Status.PAID and stock(shop) == (0, 1)


def test_3d_secure_failed(shop, buyer_client):
    checkout_path = buy(buyer_client, shop)
    response = pay(buyer_client, checkout_path, "4000002500003155")
    response = buyer_client.post(path_of(response["Location"]), {"outcome": "fail"})
    page = buyer_client.get(path_of(response["Location"]))
    assert "authenticat" in page.content.decode().lower()
    assert Order.objects.get().status == Order.Status.PENDING and stock(shop) == (1, 0)


def test_session_expiring_on_the_sandbox_clock_releases_stock(shop, buyer_client):
    buy(buyer_client, shop)
    testing.advance(minutes=40)  # the sandbox expires the session: checkout.session.expired
    order = Order.objects.get()
    assert order.status == Order.Status.EXPIRED and stock(shop) == (0, 0)
    event = StripeEvent.objects.get(type="checkout.session.expired")
    assert event.status == StripeEvent.Status.SUCCEEDED


def test_periodic_expiry_expires_the_session_in_stripe_first(shop, buyer_client):
    from datetime import timedelta

    from django.utils import timezone

    buy(buyer_client, shop)
    order = Order.objects.get()
    Purchase.objects.filter(orders=order.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert services.orders_expire_stale() == 1
    order.refresh_from_db()
    session = stripe_gateway.checkout_session_retrieve(session_id=order.checkout_session_id)
    assert session.status == "expired" and order.status == Order.Status.EXPIRED
    assert stock(shop) == (0, 0)


def test_cancel_url_expires_the_session_and_releases(shop, buyer_client):
    checkout_path = buy(buyer_client, shop)
    page = buyer_client.get(checkout_path).content.decode()
    order = Order.objects.get()
    cancel = reverse("buyers:checkout_cancel", args=[order.pk])
    assert cancel in page  # the hosted page's "Back" link
    buyer_client.get(cancel)
    order.refresh_from_db()
    assert order.status == Order.Status.CANCELED and stock(shop) == (0, 0)
    session = stripe_gateway.checkout_session_retrieve(session_id=order.checkout_session_id)
    assert session.status == "expired"
    # The hosted page no longer takes a payment.
    response = pay(buyer_client, checkout_path, "4242424242424242")
    assert response.status_code in (200, 400, 402)
    order.refresh_from_db()
    assert order.status == Order.Status.CANCELED


def test_late_payment_for_released_stock_is_refunded_in_full(sandbox, client, mailoutbox):
    seller = SellerFactory(stripe_account_id=onboarded_account())
    last = ListingFactory(seller=seller, title="Last vase", stock=1, price_amount=4000)
    late_buyer = UserFactory(email="late@example.com")
    client.force_login(late_buyer)
    late_path = buy(client, last)
    late = Order.objects.get(buyer=late_buyer)
    # Our side let the reservation go (say the expiry call to Stripe was lost) ...
    with transaction.atomic():
        services._release(
            Purchase.objects.select_for_update().get(orders=late.pk), Order.Status.EXPIRED
        )
    # ... and someone else bought and paid for the last unit.
    client.force_login(UserFactory(email="quick@example.com"))
    pay(client, buy(client, last), "4242424242424242", email="quick@example.com")
    assert Listing.objects.get(pk=last.pk).sold == 1

    # The first buyer's session was still open on Stripe: they pay.
    client.force_login(late_buyer)
    mailoutbox.clear()
    pay(client, late_path, "4242424242424242", email="late@example.com")
    late.refresh_from_db()
    assert late.status == Order.Status.REFUNDED and late.refunded_amount == 4000
    sdk = stripe_gateway.client()
    refund = sdk.v1.refunds.retrieve(late.refund_id)
    assert refund.amount == 4000 and refund.status == "succeeded"
    transfer = sdk.v1.transfers.retrieve(late.transfer_id)
    assert transfer.amount_reversed == transfer.amount  # the seller's share taken back
    fee = sdk.v1.application_fees.retrieve(late.application_fee_id)
    assert fee.amount_refunded == fee.amount  # and the platform's fee given back
    assert (Listing.objects.get(pk=last.pk).sold, Listing.objects.get(pk=last.pk).reserved) == (
        1,
        0,
    )
    assert [m.to for m in mailoutbox] == [["late@example.com"]]
    assert "refunded" in mailoutbox[0].subject
