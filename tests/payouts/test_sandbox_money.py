"""The money handlers against the sandbox: real Stripe-shaped objects through the gateway.

Sales, partial refunds and payouts happen on the sandbox; its events are handed to our handlers
duplicated and shuffled; the ledger must then match the sandbox's balances exactly.
"""

from __future__ import annotations

import random

import pytest

from marketplace import stripe_gateway
from marketplace.events.registry import handler_for
from payouts.checks import ledger_violations
from payouts.models import LedgerTransaction, Payout, SellerBalance
from payouts.services import seller_balance_refresh
from sandbox import testing
from tests.payouts.events import make_event
from tests.payouts.factories import SellerFactory
from tests.sandbox.payhelpers import balance, destination_intent, onboarded_account

pytestmark = pytest.mark.django_db


def feed_events(seen: set[str], rng: random.Random) -> int:
    """Hand every new sandbox event we handle to its handler, duplicated and shuffled."""
    fresh = [
        e for e in testing.events() if e["id"] not in seen and handler_for(e["type"]) is not None
    ]
    fresh = [e for e in fresh if handler_for(e["type"]).__module__ == "payouts.handlers"]
    batch = fresh + rng.sample(fresh, k=len(fresh) // 2)
    rng.shuffle(batch)
    for raw in batch:
        seen.add(raw["id"])
        event = make_event(raw["type"], raw["data"]["object"], account=raw.get("account") or "")
        handler_for(raw["type"])(event)
    return len(fresh)


def test_sales_refunds_and_payouts_match_the_sandbox(sdk, client):
    account = onboarded_account(sdk, client)
    seller = SellerFactory(stripe_account_id=account.id)
    rng, seen = random.Random(7), set()

    first = destination_intent(sdk, account.id, amount=2000, fee=200)
    second = destination_intent(sdk, account.id, amount=1000, fee=333)
    stripe_gateway.refund_create(
        charge_id=second.latest_charge,
        amount=499,
        order_id=2,
        reason="damaged",
        idempotency_key="refund-request-test-1",
    )
    # The same refund request again (a double click): Stripe's idempotency returns the same one.
    stripe_gateway.refund_create(
        charge_id=second.latest_charge,
        amount=499,
        order_id=2,
        reason="damaged",
        idempotency_key="refund-request-test-1",
    )
    assert feed_events(seen, rng) > 0
    assert list(ledger_violations()) == []
    kinds = sorted(LedgerTransaction.objects.values_list("kind", flat=True))
    assert kinds.count("charge") == 2 and kinds.count("refund") == 1
    assert kinds.count("transfer_reversal") == 1 and kinds.count("fee_refund") == 1

    available, pending = balance(sdk, account.id)
    ledger = SellerBalance.objects.get(seller=seller).ledger["eur"]
    assert ledger == available + pending
    # The page's snapshot from the sandbox agrees with the ledger: no warning.
    row = seller_balance_refresh(seller_id=seller.pk)
    assert row.disagreements() == []

    # Days pass: the pending money becomes available and is paid out automatically.
    testing.advance(days=10)
    feed_events(seen, rng)
    available, pending = balance(sdk, account.id)
    row = SellerBalance.objects.get(seller=seller)
    assert row.ledger["eur"] == available + pending
    assert Payout.objects.exists(), "the sandbox pays out available balances automatically"
    assert row.paid_out["eur"] == sum(p.amount for p in Payout.objects.exclude(status="failed"))
    assert list(ledger_violations()) == []
    assert first.latest_charge
