"""``make demo``'s data on the real sandbox: the demo buyer's paid orders reach the ledger."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from buyers.models import Order
from marketplace import stripe_gateway
from payouts.checks import ledger_violations
from payouts.models import LedgerTransaction, SellerBalance
from subscriptions.models import Plan

pytestmark = pytest.mark.django_db(transaction=True)


def test_demo_seed_pays_a_few_orders_through_the_sandbox_and_is_repeatable(settings):
    settings.SITE_URL = "http://127.0.0.1:8101"  # `make demo DEMO_ADDR=127.0.0.1:8101`
    stripe_gateway.reset_client()
    out = io.StringIO()
    call_command("demo_seed", stdout=out)
    assert "3 demo order(s) paid by buyer@example.com" in out.getvalue()
    # The closing block: every log-in the demo made, sellers included, and this site's address.
    closing = out.getvalue().split("Demo log-ins (password for all: demo-pass-1234):")[1]
    lines = [line.split() for line in closing.strip().splitlines()]
    assert [line[:2] for line in lines[:4]] == [
        ["admin", "admin@example.com"],
        ["buyer", "buyer@example.com"],
        ["seller", "seller@example.com"],
        ["seller", "seller2@example.com"],
    ]
    assert "Open http://127.0.0.1:8101/" in closing
    assert "8000" not in closing
    orders = Order.objects.filter(buyer__email="buyer@example.com")
    assert sorted(orders.values_list("status", flat=True)) == ["paid"] * 3
    assert all(order.charge_id and order.transfer_id for order in orders)
    # Stripe's events reached the ledger: every sale and its fees, invariants intact.
    kinds = list(LedgerTransaction.objects.values_list("kind", flat=True))
    for kind in ("charge", "transfer", "application_fee", "stripe_fee"):
        assert kinds.count(kind) == 3, kind
    assert list(ledger_violations()) == []
    assert sum(b.ledger.get("eur", 0) for b in SellerBalance.objects.all()) > 0

    # The subscription listing: two plans, each with its Stripe price, on sale.
    club = Plan.objects.filter(listing__title="Cup of the month club")
    assert sorted(club.values_list("name", "interval")) == [
        ("Monthly", "month"),
        ("Yearly", "year"),
    ]
    assert all(plan.stripe_price_id for plan in club)
    assert "'Cup of the month club' with 2 plan(s)" in out.getvalue()

    call_command("demo_seed", stdout=io.StringIO())  # again: nothing bought twice
    assert orders.count() == 3
    assert club.count() == 2
