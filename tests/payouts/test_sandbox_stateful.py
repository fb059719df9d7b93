"""Stateful property test against the sandbox: random sales (some later disputed), partial
refunds asked by the seller or by staff (through ``refund_request_create``, so the policy that a
refund never overdraws the seller is exercised: refused refunds are paid by the platform), carts
of several sellers paid once through the sandbox's Checkout (one charge on the platform, one
transfer per seller by the transfer job), partial refunds of one seller's order of a cart
(``order_refund_create``: a refund of the charge and a reversal of that seller's transfer),
lost disputes on a cart's charge (every seller's transfer reversed pro rata) and days passing
(automatic payouts); after every step the sandbox's events are handed to our
handlers duplicated and shuffled, the ledger's invariants hold, its seller balance equals the
sandbox's balance of the connected account, and reconciliation with the sandbox is clean,
amounts included; for every cart, the charge is the sellers' transfers plus the platform's
fees, the charge's refunds are the orders' refunds, and each transfer's reversals are the
refunds' reversals (or the whole transfer, after a lost dispute)."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime

import pytest
from django.db import transaction
from django.db.models import Sum
from django.test import Client, override_settings
from django.urls import reverse
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from buyers.models import Order, Purchase
from buyers.services import purchase_transfers_create
from marketplace import stripe_gateway
from marketplace.errors import UserFacingError
from payouts.checks import ledger_violations
from payouts.models import LedgerEntry, RefundRequest, SellerBalance
from payouts.reconciliation import reconcile
from payouts.services import (
    PLATFORM_BALANCE,
    PLATFORM_FEES,
    order_refund_create,
    refund_request_create,
)
from sandbox import testing
from tests.buyers.factories import ListingFactory
from tests.buyers.test_sandbox_payments import path_of, pay
from tests.factories import UserFactory
from tests.payouts.factories import SellerFactory, StaffFactory
from tests.payouts.test_sandbox_money import feed_events
from tests.sandbox.payhelpers import balance, destination_intent, onboarded_account


class MoneyMachine(RuleBasedStateMachine):
    @initialize(seed=st.integers(0, 2**16))
    def open_shop(self, seed):
        # Each example in its own savepoint, rolled back at its end (the sandbox's state lives
        # in the same database): examples do not see each other's sellers, charges or clock.
        self.example = transaction.atomic()
        self.example.__enter__()
        stripe_gateway.reset_client()
        self.sdk = testing.stripe_client()
        self.account = onboarded_account(self.sdk, Client())
        self.seller = SellerFactory(stripe_account_id=self.account.id)
        self.staff = StaffFactory()
        self.rng, self.seen, self.charges = random.Random(seed), set(), []
        self.covered = 0
        # Three more shops for carts, and a buyer.
        self.shops, self.listings, self.purchases = [], [], []
        for price in (2500, 1999, 4321):
            account = onboarded_account(self.sdk, Client())
            shop = SellerFactory(stripe_account_id=account.id)
            self.shops.append(shop)
            self.listings.append(ListingFactory(seller=shop, price_amount=price, stock=10_000))
        self.buyer = UserFactory()
        self.buyer_client = Client()
        self.buyer_client.force_login(self.buyer)

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

    @rule(
        picks=st.lists(
            st.tuples(st.integers(0, 2), st.integers(1, 3)),
            min_size=2,
            max_size=3,
            unique_by=lambda pick: pick[0],
        ),
        disputed=st.booleans(),
    )
    def cart(self, picks, disputed):
        """A buyer's cart of two or three sellers, paid once through the sandbox's Checkout;
        the success page fulfils it and the transfer job pays each seller."""
        client = self.buyer_client
        for index, quantity in picks:
            added = client.post(
                reverse("buyers:cart_add", args=[self.listings[index].pk]), {"quantity": quantity}
            )
            assert added.status_code == 303
        response = client.post(reverse("buyers:cart_checkout"), {"currency": "eur"})
        assert response.status_code == 303, response.content[:300]
        card = "4000 0000 0000 0259" if disputed else "4242 4242 4242 4242"
        paid = pay(client, path_of(response["Location"]), card, email=self.buyer.email)
        assert paid.status_code == 302
        client.get(path_of(paid["Location"]))  # the success page fulfils the purchase
        purchase = Purchase.objects.filter(buyer=self.buyer).order_by("-pk").first()
        assert purchase is not None and purchase.status == Purchase.Status.PAID
        assert purchase.charge_type == Purchase.ChargeType.SEPARATE
        assert purchase_transfers_create(purchase_id=purchase.pk) == []
        self.purchases.append((purchase.pk, disputed))

    @rule(pick=st.integers(0, 1000), fraction=st.integers(1, 100))
    def refund_one_sellers_order(self, pick, fraction):
        """The seller refunds part of their order of a cart (never a disputed one)."""
        ids = [pk for pk, disputed in self.purchases if not disputed]
        orders = list(
            Order.objects.filter(
                purchase_id__in=ids, status__in=[Order.Status.PAID, Order.Status.FULFILLED]
            ).order_by("pk")
        )
        if not orders:
            return
        order = orders[pick % len(orders)]
        left = order.amount - order.refunded_amount
        amount = min(max(left * fraction // 100, 1), left)
        try:
            order_refund_create(
                actor=order.seller.user,
                order_id=order.pk,
                amount=amount,
                reason="damaged",
                client_token=uuid.uuid4(),
            )
        except UserFacingError as refused:  # the seller's share was paid out meanwhile
            assert "paid out" in refused.message, refused.message

    @rule(pick=st.integers(0, 1000))
    def lose_a_cart_dispute(self, pick):
        """The platform accepts the loss of a dispute on a cart's charge."""
        charges = set(
            Purchase.objects.filter(
                pk__in=[pk for pk, disputed in self.purchases if disputed]
            ).values_list("charge_id", flat=True)
        )
        open_ones = [
            d
            for d in self.sdk.v1.disputes.list({"limit": 100}).data
            if d.charge in charges and d.status in ("needs_response", "warning_needs_response")
        ]
        if open_ones:
            self.sdk.v1.disputes.close(open_ones[pick % len(open_ones)].id)

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
        for shop in self.shops:
            row = SellerBalance.objects.filter(seller=shop).first()
            ours = row.ledger.get("eur", 0) if row else 0
            assert ours == sum(balance(self.sdk, shop.stripe_account_id)), shop.pk
        for purchase in Purchase.objects.filter(pk__in=[pk for pk, _ in self.purchases]):
            self.cart_adds_up(purchase)
        run = reconcile(
            start=datetime(2000, 1, 1, tzinfo=UTC),
            end=datetime(2100, 1, 1, tzinfo=UTC),
            accounts=[self.account.id, *(shop.stripe_account_id for shop in self.shops)],
        )
        assert run.status == "clean", run.issues

    def cart_adds_up(self, purchase):
        charge = self.sdk.v1.charges.retrieve(purchase.charge_id)
        orders = list(purchase.orders.all())
        transfers = {
            t.id: t
            for t in self.sdk.v1.transfers.list(
                {"transfer_group": purchase.transfer_group, "limit": 100}
            ).data
        }
        assert len(transfers) == len(orders)  # one per seller, never two
        # The charge is the sellers' transfers plus the platform's fees.
        fees = sum(order.application_fee_amount for order in orders)
        assert charge.amount == sum(t.amount for t in transfers.values()) + fees
        # The charge's refunds are the orders' refunds (what each seller gave back).
        assert charge.amount_refunded == sum(order.refunded_amount for order in orders)
        requests = RefundRequest.objects.filter(charge_id=purchase.charge_id)
        assert charge.amount_refunded == sum(
            r.amount for r in requests if r.status == RefundRequest.Status.SUCCEEDED
        )
        for order in orders:
            transfer = transfers[order.transfer_id]
            assert transfer.amount == order.transfer_amount
            if order.dispute_status == "lost":
                assert transfer.amount_reversed == transfer.amount
                continue
            # Each transfer's reversals are its order's refunds' reversals, each made once.
            mine = [r for r in requests if r.order_id == order.pk]
            assert all(r.reversal_status in ("", "done") for r in mine)
            assert transfer.amount_reversed == sum(r.reversal_amount for r in mine)
            if order.refunded_amount == order.amount:
                assert transfer.amount_reversed == transfer.amount

    def teardown(self):
        stripe_gateway.reset_client()
        if hasattr(self, "example"):
            transaction.set_rollback(True)
            self.example.__exit__(None, None, None)


@pytest.mark.django_db
@override_settings(SITE_URL="http://testserver", STRIPE_SANDBOX=True)
def test_money_state_machine_against_the_sandbox():
    MoneyMachine.TestCase.settings = settings(
        max_examples=10,
        stateful_step_count=10,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    MoneyMachine.TestCase().runTest()
