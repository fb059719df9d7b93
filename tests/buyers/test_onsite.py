"""On-site payment against the sandbox and the real event pipeline (signed webhooks delivered
inline): the payment page's PaymentIntent, the return page and ``payment_intent.succeeded``
fulfilling through the same service, declines, saved cards, one-click payment, orders the seller
accepts (capture, partial capture, decline, deadline on the sandbox clock), and the sweeps of
other people's ids. What Stripe.js does in the browser (confirming the intent with the card) is
done here through the sandbox's API with its test payment methods; the browser tests drive the
sandbox's Stripe.js itself."""

from __future__ import annotations

import json
import re
from urllib.parse import urlsplit

import pytest
from django.test import Client
from django.urls import reverse

from buyers import customers
from buyers.models import Order, Purchase, StripeCustomer
from buyers.services import onsite
from marketplace import stripe_gateway
from marketplace.events.models import StripeEvent
from sandbox import testing
from sellers.models import Listing
from tests.buyers.factories import ListingFactory, SellerFactory
from tests.buyers.sandbox_support import onboarded_account
from tests.factories import UserFactory

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.fixture
def sandbox(settings):
    from marketplace.events.services import webhook_endpoints_ensure_sandbox

    settings.STRIPE_SANDBOX = True
    settings.SITE_URL = "http://testserver"
    settings.SANDBOX_WEBHOOK_DELIVERY = "inline"
    settings.CHECKOUT_UI = "elements"
    stripe_gateway.reset_client()
    webhook_endpoints_ensure_sandbox()
    yield
    stripe_gateway.reset_client()


@pytest.fixture
def seller(sandbox):
    return SellerFactory(
        stripe_account_id=onboarded_account(), user=UserFactory(email="seller@example.com")
    )


@pytest.fixture
def shop(seller):
    return ListingFactory(seller=seller, title="Blue mug", price_amount=2500, stock=5)


@pytest.fixture
def made_to_order(seller):
    return ListingFactory(
        seller=seller,
        title="Custom vase",
        price_amount=4000,
        stock=5,
        accepts_orders_first=True,
    )


@pytest.fixture
def buyer():
    return UserFactory(email="buyer@example.com")


@pytest.fixture
def buyer_client(client, buyer):
    client.force_login(buyer)
    return client


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def buy(client, listing, quantity=1) -> Purchase:
    response = client.post(reverse("buyers:listing_buy", args=[listing.pk]), {"quantity": quantity})
    assert response.status_code == 303
    purchase = Purchase.objects.order_by("-pk").first()
    assert response["Location"] == reverse("buyers:purchase_payment", args=[purchase.pk])
    return purchase


def page_config(client, purchase) -> dict:
    response = client.get(reverse("buyers:purchase_payment", args=[purchase.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    found = re.search(r'<script id="payment-config" type="application/json">(.*?)</script>', html)
    assert found, html
    return json.loads(found.group(1))


def confirm_in_browser(client_secret: str, payment_method: str, **extra):
    """What Stripe.js's confirmPayment does with the card the buyer typed."""
    intent_id = client_secret.split("_secret_")[0]
    sdk = stripe_gateway.client()
    try:
        return sdk.v1.payment_intents.confirm(
            intent_id,
            {"payment_method": payment_method, "return_url": "http://testserver/x", **extra},
        )
    except stripe_gateway.stripe.CardError as exc:
        return exc


def come_back(client, purchase):
    purchase.refresh_from_db()
    url = reverse("buyers:purchase_payment_return", args=[purchase.pk])
    return client.get(f"{url}?payment_intent={purchase.payment_intent_id}&redirect_status=x")


def stock(listing):
    listing.refresh_from_db()
    return listing.reserved, listing.sold


def test_payment_page_creates_the_intent_once_with_the_checkout_money_shape(shop, buyer_client):
    purchase = buy(buyer_client, shop, quantity=2)
    config = page_config(buyer_client, purchase)
    again = page_config(buyer_client, purchase)
    assert config["clientSecret"] == again["clientSecret"]
    assert config["publishableKey"].startswith("pk_test_")
    purchase.refresh_from_db()
    order = purchase.orders.get()
    intent = stripe_gateway.client().v1.payment_intents.retrieve(purchase.payment_intent_id)
    assert intent.amount == purchase.amount == 5000
    assert intent.currency == purchase.currency
    assert intent.application_fee_amount == order.application_fee_amount
    assert intent.transfer_data.destination == shop.seller.stripe_account_id
    assert intent.capture_method == "automatic"
    assert intent.metadata["purchase_id"] == str(purchase.pk)
    # A first-time buyer gets a Customer only when they ask to save the card.
    assert intent.customer is None and not StripeCustomer.objects.exists()
    assert order.payment_intent_id == intent.id
    # The page loads the sandbox's Stripe.js (no third-party script offline).
    html = buyer_client.get(reverse("buyers:purchase_payment", args=[purchase.pk])).content
    assert b'src="/sandbox/js/v3/"' in html and b"js.stripe.com" not in html


def test_return_page_and_webhook_fulfil_once(shop, buyer_client, settings, mailoutbox):
    settings.SANDBOX_WEBHOOK_DELIVERY = "manual"
    purchase = buy(buyer_client, shop)
    config = page_config(buyer_client, purchase)
    confirm_in_browser(config["clientSecret"], "pm_card_visa")
    response = come_back(buyer_client, purchase)
    order = purchase.orders.get()
    assert response.status_code == 303
    assert response["Location"] == reverse("buyers:order_detail", args=[order.pk]) + "?confirming=1"
    order.refresh_from_db()
    assert order.status == Order.Status.PAID and order.charge_id and order.transfer_id
    assert stock(shop) == (0, 1)
    testing.deliver_pending()  # then the webhook: finds the work done
    event = StripeEvent.objects.get(type="payment_intent.succeeded")
    assert event.status == StripeEvent.Status.SUCCEEDED
    assert stock(shop) == (0, 1)
    assert sorted(m.to[0] for m in mailoutbox) == ["buyer@example.com", "seller@example.com"]


def test_webhook_alone_fulfils(shop, buyer_client):
    purchase = buy(buyer_client, shop)
    config = page_config(buyer_client, purchase)
    confirm_in_browser(config["clientSecret"], "pm_card_visa")  # the webhook arrives inline
    order = purchase.orders.get()
    assert order.status == Order.Status.PAID and stock(shop) == (0, 1)
    purchase.refresh_from_db()
    assert purchase.status == Purchase.Status.PAID


def test_declined_card_then_a_good_one(shop, buyer_client):
    purchase = buy(buyer_client, shop)
    config = page_config(buyer_client, purchase)
    error = confirm_in_browser(config["clientSecret"], "pm_card_chargeDeclined")
    assert isinstance(error, stripe_gateway.stripe.CardError)
    response = come_back(buyer_client, purchase)
    assert response["Location"].endswith("/payment/?failed=1")
    page = buyer_client.get(path_of(response["Location"]))
    assert "declined" in page.content.decode().lower()
    assert "try another card" in page.content.decode().lower()
    assert purchase.orders.get().status == Order.Status.PENDING and stock(shop) == (1, 0)
    # The same intent, another card.
    assert page_config(buyer_client, purchase)["clientSecret"] == config["clientSecret"]
    confirm_in_browser(config["clientSecret"], "pm_card_visa")
    assert purchase.orders.get().status == Order.Status.PAID and stock(shop) == (0, 1)


def test_amount_only_from_the_server(shop, buyer_client):
    purchase = buy(buyer_client, shop)
    page_config(buyer_client, purchase)
    # A tampered form (amount, another intent) changes nothing: the fields are not read.
    response = buyer_client.post(
        reverse("buyers:purchase_payment_save_card", args=[purchase.pk]),
        {"save": "1", "attempt": "a", "amount": "1"},
    )
    assert response.status_code == 200
    purchase.refresh_from_db()
    intent = stripe_gateway.client().v1.payment_intents.retrieve(purchase.payment_intent_id)
    assert intent.amount == 2500 and intent.setup_future_usage == "off_session"
    assert intent.customer == StripeCustomer.objects.get(user=purchase.buyer).customer_id
    url = reverse("buyers:purchase_payment_return", args=[purchase.pk])
    assert buyer_client.get(f"{url}?payment_intent=pi_someone_else").status_code == 404


def test_other_buyers_ids_are_404(shop, buyer_client):
    purchase = buy(buyer_client, shop)
    page_config(buyer_client, purchase)
    purchase.refresh_from_db()
    client = Client()
    client.force_login(UserFactory(email="other@example.com"))
    pk = purchase.pk
    assert client.get(reverse("buyers:purchase_payment", args=[pk])).status_code == 404
    url = reverse("buyers:purchase_payment_return", args=[pk])
    assert client.get(f"{url}?payment_intent={purchase.payment_intent_id}").status_code == 404
    for name in (
        "purchase_payment_save_card",
        "purchase_payment_saved_card",
        "purchase_payment_hosted",
    ):
        assert client.post(reverse(f"buyers:{name}", args=[pk])).status_code == 404, name
    # Nothing changed for the buyer.
    assert purchase.orders.get().status == Order.Status.PENDING


def _save_a_card(client, purchase):
    config = page_config(client, purchase)
    client.post(
        reverse("buyers:purchase_payment_save_card", args=[purchase.pk]),
        {"save": "1", "attempt": "one"},
    )
    confirm_in_browser(config["clientSecret"], "pm_card_visa")
    come_back(client, purchase)


def test_save_card_then_pay_in_one_click(shop, buyer, buyer_client):
    first = buy(buyer_client, shop)
    _save_a_card(buyer_client, first)
    cards, _default = customers.saved_cards(user=buyer)
    assert [(c.brand, c.last4) for c in cards] == [("visa", "4242")]
    page = buyer_client.get(reverse("buyers:payment_methods")).content.decode()
    assert "ending 4242" in page

    second = buy(buyer_client, shop)
    html = buyer_client.get(reverse("buyers:purchase_payment", args=[second.pk])).content.decode()
    assert "with Visa ending 4242" in html
    response = buyer_client.post(
        reverse("buyers:purchase_payment_saved_card", args=[second.pk]),
        {"payment_method": cards[0].id, "attempt": "x1"},
        HTTP_ACCEPT="application/json",
    )
    assert response.status_code == 200 and response.json()["status"] == "succeeded"
    # A double click (same attempt) confirms once: the same answer, one charge.
    again = buyer_client.post(
        reverse("buyers:purchase_payment_saved_card", args=[second.pk]),
        {"payment_method": cards[0].id, "attempt": "x1"},
        HTTP_ACCEPT="application/json",
    )
    assert again.json()["status"] == "succeeded"
    assert second.orders.get().status == Order.Status.PAID
    second.refresh_from_db()
    charges = stripe_gateway.client().v1.charges.list({"payment_intent": second.payment_intent_id})
    assert len(charges.data) == 1
    assert stock(shop) == (0, 2)


def test_remove_a_card_and_others_cards_are_404(shop, buyer, buyer_client):
    purchase = buy(buyer_client, shop)
    _save_a_card(buyer_client, purchase)
    (card,), _ = customers.saved_cards(user=buyer)
    client = Client()
    client.force_login(UserFactory(email="other@example.com"))
    for name in ("payment_method_default", "payment_method_remove"):
        assert client.post(reverse(f"buyers:{name}", args=[card.id])).status_code == 404
    second = buy(client, shop)
    response = client.post(
        reverse("buyers:purchase_payment_saved_card", args=[second.pk]),
        {"payment_method": card.id, "attempt": "y"},
    )
    assert response.status_code == 404
    assert [c.id for c in customers.saved_cards(user=buyer)[0]] == [card.id]

    response = buyer_client.post(reverse("buyers:payment_method_default", args=[card.id]))
    assert response.status_code == 303
    customer = stripe_gateway.client().v1.customers.retrieve(customers.customer_id_of(buyer))
    assert customer.invoice_settings.default_payment_method == card.id
    response = buyer_client.post(reverse("buyers:payment_method_remove", args=[card.id]))
    assert response.status_code == 303
    assert customers.saved_cards(user=buyer)[0] == []
    # A detached card can't be used again.
    third = buy(buyer_client, shop)
    response = buyer_client.post(
        reverse("buyers:purchase_payment_saved_card", args=[third.pk]),
        {"payment_method": card.id, "attempt": "z"},
    )
    assert response.status_code == 404


def test_customer_for_buyer_is_created_once(buyer, sandbox):
    first = customers.customer_for_buyer(user=buyer)
    StripeCustomer.objects.all().delete()  # as if the first request's row were lost
    second = customers.customer_for_buyer(user=buyer)
    assert first == second  # the idempotency key from the user id
    assert StripeCustomer.objects.get().customer_id == first


# --- Orders the seller accepts ------------------------------------------------------------------


def _authorise(client, listing, quantity=1) -> Purchase:
    purchase = buy(client, listing, quantity=quantity)
    config = page_config(client, purchase)
    confirm_in_browser(config["clientSecret"], "pm_card_visa")
    response = come_back(client, purchase)
    assert response.status_code == 303
    purchase.refresh_from_db()
    return purchase


def test_seller_accepts_part_of_an_order(made_to_order, buyer_client, mailoutbox):
    client = Client()
    purchase = _authorise(buyer_client, made_to_order, quantity=3)
    intent = stripe_gateway.client().v1.payment_intents.retrieve(purchase.payment_intent_id)
    assert intent.capture_method == "manual" and intent.status == "requires_capture"
    order = purchase.orders.get()
    assert purchase.status == Purchase.Status.AUTHORIZED and purchase.accept_by
    assert order.status == Order.Status.AWAITING_SELLER
    assert stock(made_to_order) == (3, 0)
    kinds = {m.subject.split(":")[0] for m in mailoutbox}
    assert f"New order #{order.pk} to accept or decline" in kinds

    client.force_login(made_to_order.seller.user)
    page = client.get(reverse("buyers:sale_detail", args=[order.pk])).content.decode()
    assert "Accept and charge the buyer" in page
    line = order.lines.get()
    response = client.post(reverse("buyers:sale_accept", args=[order.pk]), {f"qty-{line.pk}": "2"})
    assert response.status_code == 303
    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    assert order.amount == 8000 and order.quantity == 2
    # The fee follows what was captured (pro rata): 10 % + 0.30 of 12000 = 1230 -> 820.
    assert order.application_fee_amount == 820
    assert stock(made_to_order) == (0, 2)
    intent = stripe_gateway.client().v1.payment_intents.retrieve(purchase.payment_intent_id)
    assert intent.status == "succeeded" and intent.amount_received == 8000
    fee = stripe_gateway.client().v1.application_fees.retrieve(order.application_fee_id)
    assert fee.amount == 820


def test_ledger_records_only_captured_money(made_to_order, buyer_client):
    from payouts.models import LedgerTransaction

    purchase = _authorise(buyer_client, made_to_order, quantity=2)
    # charge.succeeded for the authorisation arrived: nothing is in the ledger yet.
    assert not LedgerTransaction.objects.filter(charge_id__startswith="ch_").exists()
    order = purchase.orders.get()
    line = order.lines.get()
    onsite.order_accept(seller=made_to_order.seller, order_id=order.pk, quantities={line.pk: 1})
    charge = LedgerTransaction.objects.get(kind=LedgerTransaction.Kind.CHARGE)
    assert sum(e.amount for e in charge.entries.all() if e.amount > 0) == 4000


def test_seller_declines_an_order(made_to_order, buyer_client, mailoutbox):
    client = Client()
    purchase = _authorise(buyer_client, made_to_order, quantity=2)
    order = purchase.orders.get()
    client.force_login(made_to_order.seller.user)
    response = client.post(reverse("buyers:sale_decline", args=[order.pk]))
    assert response.status_code == 303
    order.refresh_from_db()
    assert order.status == Order.Status.CANCELED
    assert stock(made_to_order) == (0, 0)
    intent = stripe_gateway.client().v1.payment_intents.retrieve(purchase.payment_intent_id)
    assert intent.status == "canceled"
    assert any("declined order" in m.subject for m in mailoutbox)


def test_other_sellers_cannot_accept(made_to_order, buyer_client):
    client = Client()
    purchase = _authorise(buyer_client, made_to_order)
    order = purchase.orders.get()
    stranger = SellerFactory(user=UserFactory(email="stranger@example.com"))
    client.force_login(stranger.user)
    for name in ("sale_accept", "sale_decline"):
        assert client.post(reverse(f"buyers:{name}", args=[order.pk])).status_code == 404
    order.refresh_from_db()
    assert order.status == Order.Status.AWAITING_SELLER


def test_acceptance_deadline_passing_on_the_sandbox_clock(made_to_order, buyer_client, mailoutbox):
    purchase = _authorise(buyer_client, made_to_order, quantity=2)
    assert onsite.acceptances_expire_due() == 0
    testing.advance(hours=73)
    assert onsite.acceptances_expire_due() == 1
    order = purchase.orders.get()
    assert order.status == Order.Status.EXPIRED and stock(made_to_order) == (0, 0)
    intent = stripe_gateway.client().v1.payment_intents.retrieve(purchase.payment_intent_id)
    assert intent.status == "canceled"
    subjects = " ".join(m.subject for m in mailoutbox)
    assert "was canceled; nothing was charged" in subjects
    assert "not accepted in time" in subjects


def test_accepting_after_the_deadline_cancels_cleanly(made_to_order, buyer_client):
    purchase = _authorise(buyer_client, made_to_order)
    order = purchase.orders.get()
    testing.advance(hours=80)
    from marketplace.errors import UserFacingError

    with pytest.raises(UserFacingError, match="passed"):
        onsite.order_accept(seller=made_to_order.seller, order_id=order.pk, quantities={})
    order.refresh_from_db()
    assert order.status == Order.Status.EXPIRED and stock(made_to_order) == (0, 0)


def test_a_cart_mixing_an_accepting_seller_with_others_is_refused(made_to_order, buyer_client):
    other_seller = SellerFactory(
        stripe_account_id=onboarded_account(name="Other"),
        user=UserFactory(email="other-seller@example.com"),
    )
    other = ListingFactory(seller=other_seller, title="Plate", price_amount=1000, stock=2)
    for listing in (made_to_order, other):
        buyer_client.post(reverse("buyers:cart_add", args=[listing.pk]), {"quantity": 1})
    response = buyer_client.post(reverse("buyers:cart_checkout"), {"currency": "eur"})
    purchase = Purchase.objects.get()
    assert response["Location"] == reverse("buyers:purchase_payment", args=[purchase.pk])
    page = buyer_client.get(response["Location"], follow=True).content.decode()
    assert "paid on their own" in page
    purchase.refresh_from_db()
    assert purchase.status == Purchase.Status.CANCELED and not purchase.payment_intent_id
    assert stock(made_to_order) == (0, 0) and Listing.objects.get(pk=other.pk).reserved == 0
