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
refunds' reversals (or the whole transfer, after a lost dispute).

Subscriptions too: buyers subscribe to a seller's plans (with a free trial or not) through the
sandbox's Checkout, periods pass (renewals paid), a card starts to decline and the renewal goes
through the retry schedule (to the example's end state, canceled or unpaid), the buyer pays the
open invoice on its hosted page or gives a good card, plans change with proration, and buyers
cancel at the period's end, resume, or cancel now. Their events go through our handlers with the
others (shuffled, duplicated); then our Subscription's status, period, plan and price are
Stripe's, its dunning state is the open invoice's, every invoice is Stripe's, and each paid
invoice is in the ledger exactly once (charge, Stripe's fee, transfer, application fee) for what
Stripe charged; ``invoices_against_ledger`` finds nothing, even an hour after the last payment."""

from __future__ import annotations

import os
import random
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.db import transaction
from django.db.models import Sum
from django.test import Client, TestCase, override_settings
from django.urls import reverse
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from buyers.models import Order, Purchase
from buyers.services import purchase_transfers_create
from marketplace import stripe_gateway
from marketplace.errors import UserFacingError
from marketplace.events.registry import after_batch_hooks, handler_for
from payouts.checks import ledger_violations
from payouts.models import LedgerEntry, RefundRequest, SellerBalance
from payouts.reconciliation import reconcile
from payouts.services import (
    PLATFORM_BALANCE,
    PLATFORM_FEES,
    order_refund_create,
    refund_request_create,
)
from payouts.services.invoices import invoices_against_ledger
from sandbox import testing
from sandbox.models import SandboxObject
from subscriptions import services as subscriptions
from subscriptions.models import Subscription
from tests.buyers.factories import ListingFactory
from tests.buyers.test_sandbox_payments import path_of, pay
from tests.factories import UserFactory
from tests.payouts.events import make_event
from tests.payouts.factories import SellerFactory, StaffFactory
from tests.sandbox.payhelpers import balance, destination_intent, onboarded_account
from tests.subscriptions.conftest import subscribe
from tests.subscriptions.stripe_state import assert_subscription_is_stripes, stripe_subscription_id

HANDLED_HERE = ("payouts.handlers", "subscriptions.handlers")
GOOD_CARD, DECLINING_CARD = (
    "4242 4242 4242 4242",
    "4000 0000 0000 0341",
)  # 0341: attaches, then declines


def feed_events(seen: set[str], rng: random.Random) -> int:
    """Hand every new sandbox event of the money and subscriptions handlers to its handler,
    duplicated and shuffled, as a worker would: what a handler leaves for after its commit
    (``invoice_paid`` to the ledger, emails) runs too, and then the drain's after-batch hooks."""
    unseen = SandboxObject.objects.filter(object="event").exclude(id__in=seen)
    rows = list(unseen.order_by("created", "seq").values_list("id", "data"))
    seen.update(row[0] for row in rows)
    fresh = [
        e
        for _, e in rows
        if handler_for(e["type"]) is not None and handler_for(e["type"]).__module__ in HANDLED_HERE
    ]
    batch = fresh + rng.sample(fresh, k=len(fresh) // 2)
    rng.shuffle(batch)
    for raw in batch:
        event = make_event(raw["type"], raw["data"]["object"], account=raw.get("account") or "")
        with TestCase.captureOnCommitCallbacks(execute=True):
            handler_for(raw["type"])(event)
    # As the drain does after each batch: Stripe's processing fees of the charges it recorded.
    for hook in after_batch_hooks():
        hook()
    return len(fresh)


class MoneyMachine(RuleBasedStateMachine):
    @initialize(
        seed=st.integers(0, 2**16),
        after_retries=st.sampled_from(["cancel", "unpaid"]),
        plan=st.sampled_from(["basic", "pro", "trial"]),
        declining=st.booleans(),
    )
    def open_shop(self, seed, after_retries, plan, declining):
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
        # The first shop also sells a club by subscription: three plans of one listing. What
        # becomes of a renewal that failed every retry is the platform's setting.
        self.after_retries = override_settings(SANDBOX_BILLING_AFTER_RETRIES=after_retries)
        self.after_retries.enable()
        club = ListingFactory(seller=self.shops[0], title="Club", price_amount=1000, stock=None)
        self.plans = {
            name: subscriptions.plan_create(
                seller=self.shops[0],
                listing_id=club.pk,
                data=subscriptions.PlanInput(
                    name=name, amount=amount, interval="month", trial_days=trial
                ),
            )
            for name, amount, trial in (("basic", 1000, 0), ("pro", 2500, 0), ("trial", 1500, 14))
        }
        self.subscribers: list[tuple[int, object]] = []  # (our subscription, its buyer)
        self.stripe_ids: dict[int, str] = {}
        self.invoices_in_ledger: set[str] = set()
        self.subscribe(plan, declining)  # a first subscriber, so each example has one

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

    # --- subscriptions ----------------------------------------------------------------------------

    @rule(plan=st.sampled_from(["basic", "pro", "trial"]), declining=st.booleans())
    def subscribe(self, plan, declining):
        """A new buyer subscribes on the sandbox's Checkout. On the trial plan the card may be
        one that attaches but declines every charge: the trial's end is a failed payment."""
        buyer = UserFactory()
        client = Client()
        client.force_login(buyer)
        card = DECLINING_CARD if declining and plan == "trial" else GOOD_CARD
        paid = subscribe(client, self.plans[plan], card=card, email=buyer.email)
        assert paid.status_code == 302, paid.content[:500]
        sub = Subscription.objects.get(buyer=buyer)
        self.subscribers.append((sub.pk, buyer))

    def _stripe_id(self, pk):
        """The Stripe subscription our subscription's Checkout made (from Stripe, not from us)."""
        if pk not in self.stripe_ids:
            sub = Subscription.objects.get(pk=pk)
            self.stripe_ids[pk] = stripe_subscription_id(self.sdk, sub)
        return self.stripe_ids[pk]

    def _stripe_subs(self, statuses):
        """Our subscribers' subscriptions at Stripe in one of ``statuses``."""
        found = []
        for pk, _ in self.subscribers:
            current = self.sdk.v1.subscriptions.retrieve(self._stripe_id(pk))
            if current.status in statuses:
                found.append(current)
        return found

    def _retrying(self):
        """The open invoices of our subscriptions that Stripe tries again, soonest first."""
        due = []
        for current in self._stripe_subs(("past_due",)):
            due += [
                invoice
                for invoice in self.sdk.v1.invoices.list(
                    {"subscription": current.id, "status": "open"}
                ).data
                if invoice.next_payment_attempt
            ]
        return sorted(due, key=lambda invoice: invoice.next_payment_attempt)

    @rule(pick=st.integers(0, 1000), declines=st.booleans())
    def a_period_passes(self, pick, declines):
        """The clock moves to a live subscription's next invoice (the trial's or the period's
        end), past the hour a renewal stays a draft: it is finalized and paid, or, when the
        buyer's card started to decline (their bank), the payment fails and Stripe retries."""
        live = self._stripe_subs(("trialing", "active", "past_due"))
        if not live:
            return
        current = live[pick % len(live)]
        if declines:
            pm = self.sdk.v1.payment_methods.attach(
                "pm_card_chargeCustomerFail", {"customer": current.customer}
            )
            self.sdk.v1.subscriptions.update(current.id, {"default_payment_method": pm.id})
        end = current.trial_end if current.status == "trialing" else None
        end = end or current["items"]["data"][0]["current_period_end"]
        testing.advance(max(end - testing.now(), 0) + 3600 + 120)

    @rule(retries=st.integers(1, 4))
    def retries_pass(self, retries):
        """The clock moves to the next attempts of the failed renewals, one after the other
        (the last one ends the subscription as the platform's setting says)."""
        for _ in range(retries):
            due = self._retrying()
            if not due:
                return
            testing.advance(max(due[0].next_payment_attempt - testing.now(), 0) + 60)

    @rule(pick=st.integers(0, 1000))
    def buyer_pays_the_open_invoice(self, pick):
        """The buyer follows the link of a failed renewal and pays on the hosted invoice page
        with a good card."""
        open_ones = []
        for current in self._stripe_subs(("past_due", "unpaid")):
            open_ones += self.sdk.v1.invoices.list(
                {"subscription": current.id, "status": "open"}
            ).data
        if not open_ones:
            return
        invoice = open_ones[pick % len(open_ones)]
        path = "/" + invoice.hosted_invoice_url.split("/", 3)[3]
        paid = Client().post(
            path, {"card_number": GOOD_CARD, "expiry": "12 / 34", "cvc": "123", "name": "Ada"}
        )
        assert paid.status_code in (200, 302), paid.content[:500]
        assert self.sdk.v1.invoices.retrieve(invoice.id).status == "paid"

    def _ours_live(self, pick):
        live = [
            (pk, buyer) for pk, buyer in self.subscribers if Subscription.objects.get(pk=pk).is_live
        ]
        return live[pick % len(live)] if live else (None, None)

    @rule(pick=st.integers(0, 1000), plan=st.sampled_from(["basic", "pro", "trial"]))
    def change_plan(self, pick, plan):
        """The buyer looks at the proration preview and confirms the change."""
        pk, buyer = self._ours_live(pick)
        target = self.plans[plan]
        if pk is None or Subscription.objects.get(pk=pk).plan_id == target.pk:
            return
        if Subscription.objects.get(pk=pk).cancel_at_period_end:
            # Ending with its period: no next invoice to prorate onto; the buyer keeps it first.
            with pytest.raises(UserFacingError, match="keep it first"):
                subscriptions.subscription_change_preview(
                    buyer=buyer, subscription_id=pk, plan_id=target.pk
                )
            return
        preview = subscriptions.subscription_change_preview(
            buyer=buyer, subscription_id=pk, plan_id=target.pk
        )
        subscriptions.subscription_change_plan(
            buyer=buyer,
            subscription_id=pk,
            plan_id=target.pk,
            proration_date=preview.proration_date,
        )

    @rule(pick=st.integers(0, 1000), cancel=st.booleans())
    def cancel_at_period_end_or_resume(self, pick, cancel):
        pk, buyer = self._ours_live(pick)
        if pk is not None:
            subscriptions.subscription_set_cancel(buyer=buyer, subscription_id=pk, cancel=cancel)

    @rule(pick=st.integers(0, 1000))
    def cancel_now(self, pick):
        pk, buyer = self._ours_live(pick)
        if pk is not None:
            subscriptions.subscription_cancel_now(buyer=buyer, subscription_id=pk)

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
        self.subscriptions_are_stripes()
        run = reconcile(
            start=datetime(2000, 1, 1, tzinfo=UTC),
            end=datetime(2100, 1, 1, tzinfo=UTC),
            accounts=[self.account.id, *(shop.stripe_account_id for shop in self.shops)],
        )
        assert run.status == "clean", run.issues

    def subscriptions_are_stripes(self):
        for pk, _ in self.subscribers:
            sub = Subscription.objects.select_related("plan").get(pk=pk)
            assert_subscription_is_stripes(
                self.sdk, sub, self._stripe_id(pk), in_ledger=self.invoices_in_ledger
            )
        # The ledger's check of invoices, an hour after the last payment (the sandbox's clock).
        later = datetime.fromtimestamp(testing.now(), tz=UTC) + timedelta(hours=2)
        assert list(invoices_against_ledger(now=later)) == []

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
        if hasattr(self, "after_retries"):
            self.after_retries.disable()
        if hasattr(self, "example"):
            transaction.set_rollback(True)
            self.example.__exit__(None, None, None)


@pytest.mark.django_db
@override_settings(SITE_URL="http://testserver", STRIPE_SANDBOX=True)
def test_money_state_machine_against_the_sandbox():
    MoneyMachine.TestCase.settings = settings(
        max_examples=int(os.environ.get("STATEFUL_EXAMPLES", 10)),
        stateful_step_count=10,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    MoneyMachine.TestCase().runTest()
