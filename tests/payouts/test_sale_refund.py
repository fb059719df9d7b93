"""The seller's Refund button on their sale page, against the sandbox with signed webhooks:
one seller's order of a two-seller purchase (a refund of that amount of the charge and a
reversal of that seller's transfer by their share) and an order paid alone (a destination
charge), by amount, by items or everything that remains, always through a confirmation step;
an amount above what remains is refused with a message; a fully refunded order no longer offers
it; another seller's order (of the same purchase too) is a 404."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from buyers.models import Order, Purchase
from marketplace import stripe_gateway
from payouts.checks import ledger_violations
from payouts.models import RefundRequest, SellerBalance
from tests.buyers.test_sandbox_payments import buyer_client, pay, sandbox  # noqa: F401
from tests.factories import UserFactory
from tests.payouts.test_e2e_cart import checkout_cart, sandbox_balance, two_shops  # noqa: F401

pytestmark = [pytest.mark.django_db(transaction=True)]


def as_user(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def token(page) -> str:
    found = re.search(r'name="client_token" value="([0-9a-f-]{36})"', page.content.decode())
    assert found, "the refund form carries its one-time token"
    return found.group(1)


def refund(client, order, fields):
    """Fill the form, check the confirmation, confirm. Returns (confirmation, final response)."""
    url = reverse("payouts:sale_refund", args=[order.pk])
    form = client.get(url)
    assert form.status_code == 200
    data = {"client_token": token(form), "reason": "damaged", "note": "", **fields}
    sent_before = RefundRequest.objects.count()
    confirmation = client.post(url, data)
    assert RefundRequest.objects.count() == sent_before  # nothing sent before the confirmation
    if confirmation.status_code != 200 or "Confirm the refund" not in confirmation.content.decode():
        return confirmation, None
    return confirmation, client.post(url, {**data, "confirm": "1"})


def test_one_seller_refunds_part_of_their_order_of_a_two_seller_purchase(
    two_shops,  # noqa: F811
    buyer_client,  # noqa: F811
):
    mug, vase = two_shops
    pay(buyer_client, checkout_cart(buyer_client, [(mug, 2), (vase, 1)]), "4242 4242 4242 4242")
    purchase = Purchase.objects.get()
    mugs = purchase.orders.get(seller=mug.seller)
    vases = purchase.orders.get(seller=vase.seller)
    seller = as_user(mug.seller.user)
    sale_page = seller.get(reverse("buyers:sale_detail", args=[mugs.pk])).content.decode()
    assert reverse("payouts:sale_refund", args=[mugs.pk]) in sale_page

    confirmation, done = refund(seller, mugs, {"how": "amount", "amount": "10.00"})
    text = confirmation.content.decode()
    # The seller sees what the buyer gets back and what leaves their balance before confirming.
    assert "€10.00" in text and "€8.94" in text  # 4470 x 1000 / 5000
    assert done.status_code == 302 and done["Location"].endswith(f"/sales/{mugs.pk}/")

    sdk = stripe_gateway.client()
    assert sdk.v1.charges.retrieve(purchase.charge_id).amount_refunded == 1000
    assert sdk.v1.transfers.retrieve(mugs.transfer_id).amount_reversed == 894
    assert sum(sandbox_balance(mug.seller.stripe_account_id)) == 4470 - 894
    assert SellerBalance.objects.get(seller=mug.seller).ledger["eur"] == 4470 - 894

    # More than remains: a clear message on the form, nothing sent.
    confirmation, done = refund(seller, mugs, {"how": "amount", "amount": "40.01"})
    assert done is None and confirmation.status_code == 400
    assert "At most €40.00 can still be refunded on this order." in confirmation.content.decode()
    # One mug of the two (25.00) by items, then everything that remains.
    [line] = mugs.lines.all()
    confirmation, done = refund(seller, mugs, {"how": "lines", f"line_{line.pk}": "1"})
    assert "€25.00" in confirmation.content.decode() and done.status_code == 302
    confirmation, done = refund(seller, mugs, {"how": "all"})
    assert "€15.00" in confirmation.content.decode() and done.status_code == 302

    mugs.refresh_from_db()
    assert mugs.status == Order.Status.REFUNDED and mugs.refunded_amount == 5000
    assert sdk.v1.transfers.retrieve(mugs.transfer_id).amount_reversed == 4470
    assert sum(sandbox_balance(mug.seller.stripe_account_id)) == 0
    # A fully refunded order no longer offers the button, and the page says why.
    sale_page = seller.get(reverse("buyers:sale_detail", args=[mugs.pk])).content.decode()
    assert reverse("payouts:sale_refund", args=[mugs.pk]) not in sale_page
    page = seller.get(reverse("payouts:sale_refund", args=[mugs.pk])).content.decode()
    assert "fully refunded" in page and 'name="confirm"' not in page
    # The other seller's order and money are untouched.
    vases.refresh_from_db()
    assert vases.refunded_amount == 0 and vases.status == Order.Status.PAID
    assert sum(sandbox_balance(vase.seller.stripe_account_id)) == vases.transfer_amount
    assert list(ledger_violations()) == []


def test_an_order_paid_alone_is_refunded_through_its_destination_charge(
    two_shops,  # noqa: F811
    buyer_client,  # noqa: F811
):
    mug, _vase = two_shops
    pay(buyer_client, checkout_cart(buyer_client, [(mug, 2)]), "4242 4242 4242 4242")
    purchase = Purchase.objects.get()
    assert purchase.charge_type == Purchase.ChargeType.DESTINATION
    order = purchase.orders.get()
    seller = as_user(mug.seller.user)
    before = SellerBalance.objects.get(seller=mug.seller).ledger["eur"]

    [line] = order.lines.all()
    confirmation, done = refund(seller, order, {"how": "lines", f"line_{line.pk}": "1"})
    assert "€25.00" in confirmation.content.decode() and done.status_code == 302
    sdk = stripe_gateway.client()
    charge = sdk.v1.charges.retrieve(purchase.charge_id)
    assert charge.amount_refunded == 2500
    after = SellerBalance.objects.get(seller=mug.seller).ledger["eur"]
    assert 0 < before - after < 2500  # the seller's share of it, the fee's share given back
    # Three units is more than the order holds: refused on the form.
    confirmation, done = refund(seller, order, {"how": "lines", f"line_{line.pk}": "3"})
    assert done is None and confirmation.status_code == 400
    assert list(ledger_violations()) == []


def test_another_sellers_order_is_a_404(two_shops, buyer_client):  # noqa: F811
    mug, vase = two_shops
    pay(buyer_client, checkout_cart(buyer_client, [(mug, 2), (vase, 1)]), "4242 4242 4242 4242")
    purchase = Purchase.objects.get()
    mugs = purchase.orders.get(seller=mug.seller)
    url = reverse("payouts:sale_refund", args=[mugs.pk])
    data = {
        "how": "all",
        "reason": "damaged",
        "client_token": "0" * 8 + "-0000-0000-0000-" + "0" * 12,
    }
    # The other seller of the same purchase, the buyer, and a stranger: 404, nothing sent.
    for user in (vase.seller.user, purchase.buyer, UserFactory()):
        client = as_user(user)
        assert client.get(url).status_code == 404
        assert client.post(url, {**data, "confirm": "1"}).status_code == 404
    assert (
        as_user(vase.seller.user)
        .get(reverse("payouts:sale_refund", args=[mugs.pk + 1000]))
        .status_code
        == 404
    )
    assert RefundRequest.objects.count() == 0
    assert Client().get(url).status_code == 302  # anonymous: to the sign-in page


def test_a_proposed_amount_is_prefilled_and_the_window_is_said(two_shops, buyer_client):  # noqa: F811
    from datetime import timedelta

    from django.conf import settings
    from django.utils import timezone

    mug, vase = two_shops
    pay(buyer_client, checkout_cart(buyer_client, [(mug, 2), (vase, 1)]), "4242 4242 4242 4242")
    mugs = Purchase.objects.get().orders.get(seller=mug.seller)
    seller = as_user(mug.seller.user)
    url = reverse("payouts:sale_refund", args=[mugs.pk])
    page = seller.get(url + "?amount=12.50&reason=not_delivered").content.decode()
    assert 'value="12.50"' in page
    assert re.search(r'value="amount"[^>]*checked', page)
    assert re.search(r'<option value="not_delivered" selected>', page)
    # Past the refund window: the page says so and offers no form.
    Order.objects.filter(pk=mugs.pk).update(
        paid_at=timezone.now() - settings.MARKETPLACE_REFUND_WINDOW - timedelta(days=1)
    )
    page = seller.get(url).content.decode()
    assert "refund window has passed" in page and "Review the refund" not in page
    assert RefundRequest.objects.count() == 0
