"""End to end with buyers' checkout, the sandbox and the real event pipeline (signed webhooks,
delivered inline): a paid order's money lands in the ledger with the order; the seller refunds
part and then the rest from /money/refunds/; the order, the ledger and Stripe agree."""

from __future__ import annotations

import uuid

import pytest
from django.core.management import call_command

from buyers.models import Order
from marketplace import stripe_gateway
from marketplace.money import Money
from payouts.checks import ledger_violations
from payouts.models import LedgerTransaction, SellerBalance
from tests.buyers.test_sandbox_payments import buy, buyer_client, pay, sandbox, shop  # noqa: F401

pytestmark = [pytest.mark.django_db(transaction=True)]


def sandbox_balance(account: str) -> int:
    found = stripe_gateway.balance_retrieve(stripe_account=account)
    return sum(b.amount for b in [*found.available, *found.pending] if b.currency == "eur")


def test_paid_order_then_seller_refunds_part_and_rest(shop, buyer_client, client):  # noqa: F811
    seller = shop.seller
    checkout_path = buy(buyer_client, shop, quantity=2)
    assert pay(buyer_client, checkout_path, "4242 4242 4242 4242").status_code == 302
    order = Order.objects.get()
    assert order.status == Order.Status.PAID
    txns = LedgerTransaction.objects.filter(order_id=order.pk)
    assert sorted(txns.values_list("kind", flat=True)) == [
        "application_fee",
        "charge",
        "stripe_fee",
        "transfer",
    ]
    balance = SellerBalance.objects.get(seller=seller)
    assert balance.ledger == {"eur": order.amount - order.application_fee_amount}
    assert balance.ledger["eur"] == sandbox_balance(seller.stripe_account_id)

    client.force_login(seller.user)
    url = f"/money/refunds/{order.charge_id}/new/"
    response = client.post(
        url, {"amount": "10.00", "reason": "damaged", "client_token": str(uuid.uuid4())}
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    order.refresh_from_db()
    assert order.refunded_amount == 1000 and order.status == Order.Status.PAID
    rest = Money(order.amount - 1000, order.currency).major_str()
    client.post(url, {"amount": rest, "reason": "damaged", "client_token": str(uuid.uuid4())})
    order.refresh_from_db()
    assert order.refunded_amount == order.amount and order.status == Order.Status.REFUNDED
    balance.refresh_from_db()
    assert balance.ledger == {"eur": 0} == {"eur": sandbox_balance(seller.stripe_account_id)}
    assert list(ledger_violations()) == []
    call_command("ledger_check")
    # Every event the sandbox delivered was handled (none failed in our handlers).
    from marketplace.events.models import StripeEvent

    failed = StripeEvent.objects.exclude(status__in=["succeeded", "ignored"])
    assert list(failed.values_list("type", "status", "last_error")) == []


def test_ledger_check_compares_orders_with_the_ledger(shop, buyer_client, capsys):  # noqa: F811
    from datetime import timedelta

    from django.core.management.base import CommandError
    from django.utils import timezone

    checkout_path = buy(buyer_client, shop)
    pay(buyer_client, checkout_path, "4242 4242 4242 4242")
    order = Order.objects.get()
    call_command("ledger_check")
    # Planted: the order claims another fee than the ledger recorded; and an old paid order
    # whose charge never reached the ledger.
    Order.objects.filter(pk=order.pk).update(
        application_fee_amount=order.application_fee_amount - 1
    )
    ghost = Order.objects.get(pk=order.pk)
    ghost_purchase = ghost.purchase
    ghost_purchase.pk = None
    ghost_purchase.client_token = uuid.uuid4()
    ghost_purchase.checkout_session_id = "cs_ghost"
    ghost_purchase.save()
    ghost.purchase = ghost_purchase
    ghost.pk = None
    ghost.client_token = uuid.uuid4()
    ghost.checkout_session_id = "cs_ghost"
    ghost.charge_id = "ch_ghost"
    ghost.paid_at = timezone.now() - timedelta(hours=2)
    ghost.save()
    with pytest.raises(CommandError):
        call_command("ledger_check")
    out = capsys.readouterr().out
    assert f"order {order.pk}: application fee {order.application_fee_amount - 1} stored" in out
    assert f"order {ghost.pk}: paid at Stripe but its charge is not in the ledger" in out
