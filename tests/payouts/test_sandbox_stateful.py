"""Stateful property test against the sandbox: random sales (some later disputed), partial
refunds and days passing (automatic payouts); after every step the sandbox's events are handed
to our handlers duplicated and shuffled, and the ledger's invariants hold and its seller balance
equals the sandbox's balance of the connected account."""

from __future__ import annotations

import random

import pytest
from django.test import Client
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from marketplace import stripe_gateway
from payouts.checks import ledger_violations
from payouts.models import SellerBalance
from sandbox import testing
from tests.payouts.factories import SellerFactory
from tests.payouts.fake_stripe import _id as unique
from tests.payouts.test_sandbox_money import feed_events
from tests.sandbox.payhelpers import balance, destination_intent, onboarded_account


class MoneyMachine(RuleBasedStateMachine):
    @initialize(seed=st.integers(0, 2**16))
    def open_shop(self, seed):
        stripe_gateway.reset_client()
        self.sdk = testing.stripe_client()
        self.account = onboarded_account(self.sdk, Client())
        self.seller = SellerFactory(stripe_account_id=self.account.id)
        self.rng, self.seen, self.charges = random.Random(seed), set(), []

    @rule(amount=st.integers(100, 50_000), bps=st.integers(0, 3000), disputed=st.booleans())
    def sale(self, amount, bps, disputed):
        method = "pm_card_createDispute" if disputed else "pm_card_visa"
        pi = destination_intent(
            self.sdk,
            self.account.id,
            amount=amount,
            fee=amount * bps // 10_000,
            payment_method=method,
        )
        self.charges.append((pi.latest_charge, disputed))

    @rule(fraction=st.integers(1, 100), pick=st.integers(0, 1000))
    def refund(self, fraction, pick):
        candidates = [c for c, disputed in self.charges if not disputed]
        if not candidates:
            return
        charge_id = candidates[pick % len(candidates)]
        charge = self.sdk.v1.charges.retrieve(charge_id)
        held = sum(balance(self.sdk, self.account.id))
        left = charge.amount - charge.amount_refunded
        amount = min(max(left * fraction // 100, 1), left, held)
        if amount <= 0:
            return
        stripe_gateway.refund_create(
            charge_id=charge_id,
            amount=amount,
            order_id=0,
            reason="r",
            idempotency_key=unique("refund-request"),
        )

    @rule(days=st.integers(0, 4))
    def time_passes(self, days):
        testing.advance(days=days, minutes=3)

    @invariant()
    def ledger_matches_the_sandbox(self):
        if not hasattr(self, "account"):
            return
        # Our handlers call Stripe too (a lost dispute reverses the seller's transfer), and those
        # calls make new events: deliver until the sandbox is quiet, as webhooks would.
        for _ in range(5):
            if not feed_events(self.seen, self.rng):
                break
        violations = list(ledger_violations())
        assert violations == [], violations
        row = SellerBalance.objects.filter(seller=self.seller).first()
        ours = row.ledger.get("eur", 0) if row else 0
        assert ours == sum(balance(self.sdk, self.account.id))

    def teardown(self):
        import os

        if os.environ.get("PAYOUTS_DEBUG"):
            from collections import Counter

            from payouts.models import LedgerTransaction

            print(Counter(LedgerTransaction.objects.values_list("kind", flat=True)))
        stripe_gateway.reset_client()


@pytest.mark.django_db
def test_money_state_machine_against_the_sandbox():
    MoneyMachine.TestCase.settings = settings(
        max_examples=10,
        stateful_step_count=10,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    MoneyMachine.TestCase().runTest()
