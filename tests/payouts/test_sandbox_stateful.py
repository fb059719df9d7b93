"""Stateful property test against the sandbox: random sales (some later disputed), partial
refunds asked by the seller or by staff (through ``refund_request_create``, so the policy that a
refund never overdraws the seller is exercised: refused refunds are paid by the platform) and
days passing (automatic payouts); after every step the sandbox's events are handed to our
handlers duplicated and shuffled, the ledger's invariants hold, its seller balance equals the
sandbox's balance of the connected account, and reconciliation with the sandbox is clean,
amounts included."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime

import pytest
from django.db.models import Sum
from django.test import Client
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from marketplace import stripe_gateway
from marketplace.errors import UserFacingError
from payouts.checks import ledger_violations
from payouts.models import LedgerEntry, SellerBalance
from payouts.reconciliation import reconcile
from payouts.services import PLATFORM_BALANCE, PLATFORM_FEES, refund_request_create
from sandbox import testing
from tests.payouts.factories import SellerFactory, StaffFactory
from tests.payouts.test_sandbox_money import feed_events
from tests.sandbox.payhelpers import balance, destination_intent, onboarded_account


class MoneyMachine(RuleBasedStateMachine):
    @initialize(seed=st.integers(0, 2**16))
    def open_shop(self, seed):
        stripe_gateway.reset_client()
        self.sdk = testing.stripe_client()
        self.account = onboarded_account(self.sdk, Client())
        self.seller = SellerFactory(stripe_account_id=self.account.id)
        self.staff = StaffFactory()
        self.rng, self.seen, self.charges = random.Random(seed), set(), []
        self.covered = 0

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

    @rule(fraction=st.integers(1, 100), pick=st.integers(0, 1000), by_staff=st.booleans())
    def refund(self, fraction, pick, by_staff):
        candidates = [c for c, disputed in self.charges if not disputed]
        if not candidates:
            return
        charge_id = candidates[pick % len(candidates)]
        charge = self.sdk.v1.charges.retrieve(charge_id)
        left = charge.amount - charge.amount_refunded
        amount = min(max(left * fraction // 100, 1), left)
        if amount <= 0:
            return
        actor = self.staff if by_staff else self.seller.user

        def ask(**extra):
            return refund_request_create(
                actor=actor,
                charge_id=charge_id,
                amount=amount,
                reason="damaged",
                client_token=uuid.uuid4(),
                **extra,
            )

        try:
            ask()
        except UserFacingError as refused:
            assert "paid out" in refused.message, refused.message
            if by_staff:  # the platform pays it; the seller keeps their share
                ask(platform_covers=True)
                self.covered += 1

    @rule(days=st.integers(0, 9))
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
        # The platform's money too: Stripe's balance is what the ledger holds on the platform's
        # Stripe balance plus its fees account (application fees arrive there), now that Stripe's
        # processing fees are in the ledger.
        platform = LedgerEntry.objects.filter(
            account__in=[PLATFORM_BALANCE, PLATFORM_FEES], currency="eur"
        ).aggregate(total=Sum("amount"))["total"]
        assert (platform or 0) == sum(balance(self.sdk))
        run = reconcile(
            start=datetime(2000, 1, 1, tzinfo=UTC),
            end=datetime(2100, 1, 1, tzinfo=UTC),
            accounts=[self.account.id],
        )
        assert run.status == "clean", run.issues

    def teardown(self):
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
