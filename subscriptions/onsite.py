"""Subscribing and paying subscription invoices on our own page (``CHECKOUT_UI=elements``):
Stripe.js and the Payment Element instead of Stripe's hosted Checkout.

``subscribe`` creates our subscription, then its Stripe subscription with
``payment_behavior=default_incomplete``: the first invoice stays open (the subscription
``incomplete``) until the buyer confirms its PaymentIntent on our page with the invoice's
``confirmation_secret``; with a free trial nothing is due, and the subscription's
``pending_setup_intent`` collects the card (``confirmSetup``). Stripe saves the card as the
subscription's default (``save_default_payment_method=on_subscription``). Abandoned, Stripe
expires the subscription after 23 hours (``incomplete_expired``), and a new click on Subscribe
within that time reuses it.

The same page pays an open renewal invoice (dunning: a failed or 3-D Secure renewal), and a
buyer's saved card pays (or starts the trial) in one click, confirmed by our server; when the
bank asks for authentication the page finishes it with ``handleNextAction``.

Our ``Subscription`` row follows Stripe through the same webhooks as Checkout's
(``subscriptions.handlers``); the return page also re-reads Stripe so the buyer sees the
result at once. Every Stripe POST carries an idempotency key from our ids.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from buyers import customers as buyers_customers
from marketplace import stripe_gateway as gw
from marketplace.errors import UserFacingError
from marketplace.money import Money
from subscriptions import services
from subscriptions.models import Plan, Subscription

logger = logging.getLogger(__name__)
S = Subscription.Status

# Stripe expires an incomplete subscription 23 hours after it was created.
INCOMPLETE_LIFETIME = dt.timedelta(hours=23)
# Statuses whose latest invoice the buyer may pay on our page.
PAYABLE = frozenset({S.INCOMPLETE, S.PAST_DUE, S.UNPAID})
# A SetupIntent still waiting for the buyer's card.
SETUP_WAITING = frozenset({"requires_payment_method", "requires_confirmation", "requires_action"})


def enabled() -> bool:
    """Subscriptions are paid on our own page: ``CHECKOUT_UI=elements`` and Stripe.js can run
    (always on the sandbox; with real Stripe when the publishable key is set)."""
    return settings.CHECKOUT_UI == "elements" and gw.stripe_js_available()


class SubscriptionNotFound(UserFacingError):
    """Not one of the asking buyer's subscriptions (views answer 404)."""


@dataclass(frozen=True)
class PayStep:
    """What our page collects for a subscription now.

    ``kind``: ``payment`` (the open invoice's PaymentIntent: ``confirmPayment``), ``setup``
    (a trial's pending SetupIntent: ``confirmSetup``), or "" (nothing to collect)."""

    subscription: Subscription
    kind: str
    client_secret: str
    intent_id: str
    invoice_id: str
    amount_due: Money | None

    @property
    def first_payment(self) -> bool:
        """Subscribing (the first invoice, or a trial's card) rather than a renewal."""
        return self.subscription.status in (S.INCOMPLETE, S.TRIALING)


def _apply(sub_id: int, current: gw.Subscription) -> Subscription:
    with transaction.atomic():
        locked = Subscription.objects.select_for_update().select_related("plan").get(pk=sub_id)
        services._apply(locked, current, as_of=None)
        return locked


def _reusable(buyer: Any, plan: Plan) -> Subscription | None:
    """The buyer's own unfinished on-site subscription to this plan: still ``incomplete`` at
    Stripe (younger than 23 hours), or not yet created there (a failed attempt, retried with
    the same idempotency key)."""
    now = timezone.now()
    # Only one on the plan's current price (a changed price means a new subscription).
    candidates = Subscription.objects.filter(
        buyer=buyer,
        plan=plan,
        checkout_session_id="",
        amount=plan.amount,
        interval=plan.interval,
    )
    incomplete = (
        candidates.filter(status=S.INCOMPLETE, created_at__gte=now - INCOMPLETE_LIFETIME)
        .exclude(stripe_subscription_id=None)
        .order_by("-created_at")
        .first()
    )
    if incomplete is not None:
        return incomplete
    return (
        candidates.filter(
            status=S.PENDING,
            stripe_subscription_id=None,
            created_at__gte=now - dt.timedelta(hours=1),
        )
        .order_by("-created_at")
        .first()
    )


def subscribe(*, buyer: Any, plan_id: int) -> Subscription:
    """Subscribe ``buyer`` to a plan on our own page: our subscription, then its Stripe
    subscription (``default_incomplete``, the buyer's Customer, the fee rules' percentage, the
    seller as ``transfer_data.destination``, the plan's trial, our id in the metadata). Returns
    our subscription, ``incomplete`` (the page collects the first payment) or ``trialing`` (the
    page collects the card). A second click returns the same unfinished subscription.

    ``UserFacingError`` when the plan cannot be subscribed to (nothing sent to Stripe);
    ``GatewayError`` when Stripe cannot be reached (a new click retries with the same key)."""
    plan = services.subscribable_plan(buyer=buyer, plan_id=plan_id)
    if not plan.in_stripe:
        plan = services.plan_push_to_stripe(plan_id=plan.pk)
    customer_id = services.customer_for_buyer(user=buyer)
    with transaction.atomic():
        # Two clicks at once: the second waits here, then reuses the first's subscription.
        get_user_model().objects.select_for_update().filter(pk=buyer.pk).first()
        sub = _reusable(buyer, plan)
        if sub is not None and sub.stripe_subscription_id:
            return sub
        if sub is None:
            sub = services.pending_subscription_create(
                buyer=buyer, plan=plan, customer_id=customer_id
            )
    assert plan.seller.stripe_account_id
    step = gw.subscription_create_incomplete(
        subscription_id=sub.pk,
        customer_id=customer_id,
        prices=services.plan_prices(plan),
        application_fee_percent=float(sub.application_fee_percent),
        destination=plan.seller.stripe_account_id,
        trial_period_days=plan.trial_days,
        idempotency_key=gw.idempotency_key("subscription", sub.pk, "create"),
    )
    return _apply(sub.pk, step.subscription)


def _buyer_sub(buyer: Any, subscription_id: int) -> Subscription:
    sub = (
        Subscription.objects.select_related("plan__listing", "seller")
        .filter(buyer=buyer, pk=subscription_id)
        .first()
    )
    if sub is None:
        raise SubscriptionNotFound("No such subscription.")
    return sub


def pay_step(*, buyer: Any, subscription_id: int) -> PayStep:
    """Re-read the buyer's subscription from Stripe (our row follows it) and say what our page
    collects: the open latest invoice's payment, a trial's card, or nothing."""
    sub = _buyer_sub(buyer, subscription_id)
    if not sub.stripe_subscription_id:
        return PayStep(sub, "", "", "", "", None)
    step = gw.subscription_payment_step(subscription_id=sub.stripe_subscription_id)
    sub = _apply(sub.pk, step.subscription)
    if sub.status in PAYABLE and step.invoice_status == "open" and step.payment_client_secret:
        return PayStep(
            sub,
            "payment",
            step.payment_client_secret,
            step.payment_intent_id,
            step.invoice_id,
            Money(step.amount_due, step.currency or sub.currency),
        )
    if (
        sub.status == S.TRIALING
        and step.setup_client_secret
        and step.setup_status in SETUP_WAITING
        and not step.default_payment_method_id
    ):
        return PayStep(sub, "setup", step.setup_client_secret, step.setup_intent_id, "", None)
    return PayStep(sub, "", "", "", "", None)


@dataclass(frozen=True)
class SavedCardResult:
    status: str  # the intent's: succeeded, processing, requires_action...
    client_secret: str  # for handleNextAction when the bank asks the buyer to authenticate


def pay_with_saved_card(
    *, buyer: Any, subscription_id: int, payment_method_id: str, return_url: str, attempt: str
) -> SavedCardResult:
    """Pay the open invoice (or start the trial) with one of the buyer's saved cards, in one
    click: our server confirms the invoice's PaymentIntent (or the pending SetupIntent) with the
    card, the buyer on the page (not off-session). ``CardNotFound`` for a card that is not
    theirs; ``PaymentError`` with the bank's message for a decline; ``UserFacingError`` when
    there is nothing to pay. Idempotent per ``attempt`` (a double click confirms once)."""
    card = buyers_customers.saved_card(user=buyer, payment_method_id=payment_method_id)
    step = pay_step(buyer=buyer, subscription_id=subscription_id)
    if step.kind == "payment":
        intent = gw.payment_intent_confirm_saved_card(
            payment_intent_id=step.intent_id,
            payment_method_id=card.id,
            return_url=return_url,
            idempotency_key=gw.idempotency_key(
                "subscription", step.subscription.pk, step.invoice_id, "card", attempt
            ),
        )
        return SavedCardResult(intent.status, intent.client_secret)
    if step.kind == "setup":
        setup = gw.setup_intent_confirm_saved_card(
            setup_intent_id=step.intent_id,
            payment_method_id=card.id,
            return_url=return_url,
            idempotency_key=gw.idempotency_key(
                "subscription", step.subscription.pk, step.intent_id, "card", attempt
            ),
        )
        return SavedCardResult(setup.status, setup.client_secret)
    raise UserFacingError("There is nothing to pay for this subscription now.")


@dataclass(frozen=True)
class ReturnResult:
    subscription: Subscription
    outcome: str  # done, failed, pending
    message: str


def pay_result(
    *, buyer: Any, subscription_id: int, payment_intent_id: str = "", setup_intent_id: str = ""
) -> ReturnResult:
    """Where Stripe.js sends the buyer after confirming (``return_url``): the intent id in the
    URL is only a pointer, it must be one of the buyer's own (its customer is the
    subscription's), and Stripe is re-read. ``failed``: the card was declined or not
    authenticated (the page offers another try); ``pending``: Stripe is still confirming."""
    sub = _buyer_sub(buyer, subscription_id)
    if payment_intent_id:
        intent = gw.payment_intent_retrieve(payment_intent_id=payment_intent_id)
        customer, status = intent.customer_id, intent.status
        error = intent.last_error.message if intent.last_error else ""
    elif setup_intent_id:
        setup = gw.setup_intent_retrieve(setup_intent_id=setup_intent_id)
        customer, status, error = setup.customer_id, setup.status, ""
    else:
        raise SubscriptionNotFound("No such payment.")
    if not sub.stripe_subscription_id or customer != sub.stripe_customer_id:
        raise SubscriptionNotFound("No such payment.")
    synced = services.subscription_sync(stripe_subscription_id=sub.stripe_subscription_id)
    sub = synced or sub
    if status == "succeeded":
        if sub.status == S.TRIALING:
            message = "Your free trial has started. Your card is saved for when it ends."
        else:
            message = "Thank you: your subscription is active."
        return ReturnResult(sub, "done", message)
    if status in ("requires_payment_method", "canceled"):
        return ReturnResult(
            sub, "failed", (error or "The payment did not go through.") + " Please try again."
        )
    return ReturnResult(sub, "pending", "We are confirming your payment with Stripe.")
