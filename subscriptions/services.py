"""Writes of the subscriptions app: plans, subscribing, managing, usage, and applying Stripe's
subscriptions and invoices (from the event handlers).

Every Stripe call goes through ``marketplace.stripe_gateway`` with an idempotency key from our
ids. Bad input is refused with a ``UserFacingError`` before anything is sent to Stripe.
State follows Stripe: ``subscription_sync`` locks our row, re-reads the subscription from
Stripe and applies it, so duplicated or shuffled events all end in Stripe's final state.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import io
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from buyers import customers as buyers_customers
from marketplace import stripe_gateway as gw
from marketplace.errors import UserFacingError
from marketplace.money import Money
from sellers.fees import fee_quote
from sellers.models import Listing, Seller
from subscriptions.models import (
    MAX_TRIAL_DAYS,
    Plan,
    Subscription,
    SubscriptionInvoice,
    UsageRecord,
)
from subscriptions.signals import invoice_paid

logger = logging.getLogger(__name__)

INTERVALS = {Plan.Interval.MONTH.value, Plan.Interval.YEAR.value}
MAX_USAGE_PER_RECORD = 1_000_000
S = Subscription.Status


def _ts(value: int | None) -> dt.datetime | None:
    return dt.datetime.fromtimestamp(value, tz=dt.UTC) if value else None


def _absolute(path: str) -> str:
    return settings.SITE_URL + path


# --- Plans ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlanInput:
    """What a seller typed for a plan (amounts already parsed to minor units of the listing's
    currency by the form)."""

    name: str
    amount: int
    interval: str
    trial_days: int = 0
    meter_name: str = ""
    usage_unit_amount: int | None = None


def _clean_plan(
    data: PlanInput, *, seller: Seller, currency: str, exclude_plan_id: int | None = None
) -> PlanInput:
    name = data.name.strip()
    if not name:
        raise UserFacingError("Give the plan a name.", field="name")
    if data.amount <= 0:
        raise UserFacingError("The price must be more than zero.", field="price")
    if data.interval not in INTERVALS:
        raise UserFacingError("Choose monthly or yearly billing.", field="interval")
    if not 0 <= data.trial_days <= MAX_TRIAL_DAYS:
        raise UserFacingError(
            f"A free trial lasts from 0 to {MAX_TRIAL_DAYS} days.", field="trial_days"
        )
    meter_name = " ".join(data.meter_name.split())
    usage = data.usage_unit_amount
    if meter_name and (usage is None or usage <= 0):
        raise UserFacingError(
            "Give the price of one unit of usage (more than zero).", field="usage_price"
        )
    if usage is not None and not meter_name:
        raise UserFacingError(
            "Name what is counted (e.g. “lessons taken”) to charge for usage.", field="meter_name"
        )
    if meter_name:
        taken = Plan.objects.filter(seller=seller, meter_name__iexact=meter_name)
        if exclude_plan_id is not None:
            taken = taken.exclude(pk=exclude_plan_id)
        if taken.exists():
            raise UserFacingError(
                f"You already count “{meter_name}” on another plan: choose another name.",
                field="meter_name",
            )
    Money(data.amount, currency)  # a currency we know
    return PlanInput(
        name=name[:80],
        amount=data.amount,
        interval=data.interval,
        trial_days=data.trial_days,
        meter_name=meter_name[:60],
        usage_unit_amount=usage if meter_name else None,
    )


def plan_create(*, seller: Seller, listing_id: int, data: PlanInput) -> Plan:
    """Add a plan to one of the seller's listings (making it a subscription listing), then
    create its Product, Price(s) and Meter in Stripe.

    Refuses (``UserFacingError``, nothing created anywhere) a price of zero or less, an
    interval other than month/year, a trial over 730 days, a meter name the seller already
    uses, a usage part without a unit price. Stripe being down leaves the plan saved and not
    yet in Stripe: subscribing pushes it again (same idempotency keys)."""
    listing = (
        Listing.objects.filter(seller=seller, pk=listing_id)
        .exclude(status=Listing.Status.DELETED)
        .first()
    )
    if listing is None:
        raise UserFacingError("No such listing.")
    clean = _clean_plan(data, seller=seller, currency=listing.currency)
    with transaction.atomic():
        plan = Plan.objects.create(
            listing=listing,
            seller=seller,
            name=clean.name,
            amount=clean.amount,
            currency=listing.currency,
            interval=clean.interval,
            trial_days=clean.trial_days,
            meter_name=clean.meter_name,
            usage_unit_amount=clean.usage_unit_amount,
        )
    try:
        return plan_push_to_stripe(plan_id=plan.pk)
    except gw.GatewayError as exc:
        logger.warning("plan %s not in Stripe yet: %s", plan.pk, exc.message)
        return plan


def plan_update(*, seller: Seller, plan_id: int, data: PlanInput, is_active: bool = True) -> Plan:
    """Change a plan. A new price, interval or unit price is a new Stripe Price (version + 1):
    new subscribers get it, current subscribers keep theirs until they change plan. The meter
    of a plan is fixed once created (its name can still be corrected)."""
    with transaction.atomic():
        plan = Plan.objects.select_for_update().filter(seller=seller, pk=plan_id).first()
        if plan is None:
            raise UserFacingError("No such plan.")
        if plan.meter_name and not data.meter_name.strip():
            raise UserFacingError(
                "A plan's usage-based part cannot be removed: make a new plan instead.",
                field="meter_name",
            )
        if not plan.meter_name and data.meter_name.strip() and plan.subscriptions.exists():
            raise UserFacingError(
                "This plan has subscribers: add the usage-based part on a new plan.",
                field="meter_name",
            )
        clean = _clean_plan(data, seller=seller, currency=plan.currency, exclude_plan_id=plan.pk)
        repriced = (
            clean.amount != plan.amount
            or clean.interval != plan.interval
            or clean.usage_unit_amount != plan.usage_unit_amount
        )
        plan.name = clean.name
        plan.trial_days = clean.trial_days
        plan.meter_name = clean.meter_name
        plan.is_active = is_active
        if repriced:
            plan.amount = clean.amount
            plan.interval = clean.interval
            plan.usage_unit_amount = clean.usage_unit_amount
            plan.price_version += 1
            plan.stripe_price_id = ""
            plan.stripe_usage_price_id = ""
        plan.save()
    try:
        return plan_push_to_stripe(plan_id=plan.pk)
    except gw.GatewayError as exc:
        logger.warning("plan %s not in Stripe yet: %s", plan.pk, exc.message)
        return plan


def plan_push_to_stripe(*, plan_id: int) -> Plan:
    """Create what the plan still lacks in Stripe: Product, Meter, flat Price, usage Price.

    Idempotent (keys from the plan's id and price version); each id is saved as soon as Stripe
    returns it. Raises ``GatewayError`` when Stripe cannot be reached."""
    plan = Plan.objects.select_related("listing").get(pk=plan_id)
    if not plan.stripe_product_id:
        plan.stripe_product_id = gw.product_create(
            plan_id=plan.pk, name=f"{plan.listing.title}: {plan.name}", seller_id=plan.seller_id
        )
        Plan.objects.filter(pk=plan.pk).update(stripe_product_id=plan.stripe_product_id)
    if plan.has_usage and not plan.stripe_meter_id:
        plan.stripe_meter_id = gw.meter_create(
            plan_id=plan.pk, display_name=plan.meter_name, event_name=plan.meter_event_name
        )
        Plan.objects.filter(pk=plan.pk).update(stripe_meter_id=plan.stripe_meter_id)
    if not plan.stripe_price_id:
        plan.stripe_price_id = gw.recurring_price_create(
            plan_id=plan.pk,
            version=plan.price_version,
            product_id=plan.stripe_product_id,
            unit_amount=plan.amount,
            currency=plan.currency,
            interval=plan.interval,
        )
        Plan.objects.filter(pk=plan.pk).update(stripe_price_id=plan.stripe_price_id)
    if plan.has_usage and not plan.stripe_usage_price_id:
        assert plan.usage_unit_amount is not None
        plan.stripe_usage_price_id = gw.recurring_price_create(
            plan_id=plan.pk,
            version=plan.price_version,
            product_id=plan.stripe_product_id,
            unit_amount=plan.usage_unit_amount,
            currency=plan.currency,
            interval=plan.interval,
            meter_id=plan.stripe_meter_id,
        )
        Plan.objects.filter(pk=plan.pk).update(stripe_usage_price_id=plan.stripe_usage_price_id)
    return plan


# --- Customers ------------------------------------------------------------------------------------


def customer_for_buyer(*, user: Any) -> str:
    """The buyer's Stripe Customer id on the platform account: the one Customer per buyer that
    on-site payment and saved cards use too (``buyers.customers.customer_for_buyer``)."""
    return buyers_customers.customer_for_buyer(user=user)


# --- Subscribing ----------------------------------------------------------------------------------


def fee_percent(*, plan: Plan) -> Decimal:
    """The fee rules' application fee on the plan's price, as Stripe's percentage (0-100, two
    decimals): the rules' fixed part and bounds are priced on the flat amount."""
    quote = fee_quote(amount=plan.price, seller=plan.seller, category=plan.listing.category_id)
    percent = Decimal(quote.fee.amount * 100) / Decimal(plan.amount)
    return percent.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def subscribable_plan(*, buyer: Any, plan_id: int) -> Plan:
    """The plan ``buyer`` may subscribe to now (Checkout or our own page): active, on a
    published listing of a seller who can take payments, not their own, and no live
    subscription to the listing already. ``UserFacingError`` otherwise."""
    plan = (
        Plan.objects.select_related("listing", "seller")
        .filter(pk=plan_id, is_active=True, listing__status=Listing.Status.PUBLISHED)
        .first()
    )
    if plan is None:
        raise UserFacingError("This plan is not available.")
    if plan.seller.user_id == buyer.pk:
        raise UserFacingError("You cannot subscribe to your own plan.")
    if not plan.seller.can_sell:
        raise UserFacingError("This seller cannot take payments right now.")
    live = Subscription.objects.filter(buyer=buyer, plan__listing=plan.listing).exclude(
        status__in=[*Subscription.ENDED, S.PENDING, S.INCOMPLETE]
    )
    if live.exists():
        raise UserFacingError("You already subscribe to this; change plan from your subscriptions.")
    return plan


def pending_subscription_create(*, buyer: Any, plan: Plan, customer_id: str) -> Subscription:
    """Our record of ``buyer``'s subscription to ``plan`` before Stripe has one (Checkout or our
    own page): pending, the plan's price and interval, the fee rules' percentage, the buyer's
    Customer."""
    return Subscription.objects.create(
        buyer=buyer,
        plan=plan,
        seller=plan.seller,
        currency=plan.currency,
        application_fee_percent=fee_percent(plan=plan),
        stripe_customer_id=customer_id,
        amount=plan.amount,
        interval=plan.interval,
    )


def plan_prices(plan: Plan) -> list[gw.SubscriptionPrice]:
    """The Stripe prices a subscription to ``plan`` carries: the flat price, and the metered
    usage price when the plan has one."""
    prices = [gw.SubscriptionPrice(plan.stripe_price_id)]
    if plan.has_usage:
        prices.append(gw.SubscriptionPrice(plan.stripe_usage_price_id, metered=True))
    return prices


def subscription_start(*, buyer: Any, plan_id: int) -> Subscription:
    """Subscribe ``buyer`` to a plan: our record (pending) and its Checkout Session in
    ``subscription`` mode (the buyer's Customer, the fee percentage from the fee rules, the
    seller as ``transfer_data.destination``, the plan's trial). Returns the subscription with
    ``checkout_url``. A second click while one is pending returns the same."""
    plan = subscribable_plan(buyer=buyer, plan_id=plan_id)
    pending = Subscription.objects.filter(
        buyer=buyer,
        plan=plan,
        status=S.PENDING,
        created_at__gte=timezone.now() - dt.timedelta(hours=1),
    ).first()
    if pending is not None and pending.checkout_url:
        return pending
    if not plan.in_stripe:
        plan = plan_push_to_stripe(plan_id=plan.pk)
    customer_id = customer_for_buyer(user=buyer)
    with transaction.atomic():
        sub = pending_subscription_create(buyer=buyer, plan=plan, customer_id=customer_id)
    assert plan.seller.stripe_account_id
    session = gw.checkout_session_create_subscription(
        subscription_id=sub.pk,
        customer_id=customer_id,
        prices=plan_prices(plan),
        application_fee_percent=float(sub.application_fee_percent),
        destination=plan.seller.stripe_account_id,
        trial_period_days=plan.trial_days,
        success_url=_absolute(reverse("subscriptions:success"))
        + "?session_id={CHECKOUT_SESSION_ID}",
        cancel_url=_absolute(reverse("subscriptions:list")),
        idempotency_key=gw.idempotency_key("subscription", sub.pk, "checkout"),
    )
    Subscription.objects.filter(pk=sub.pk).update(
        checkout_session_id=session.id, checkout_url=session.url
    )
    sub.checkout_session_id, sub.checkout_url = session.id, session.url
    return sub


def subscription_confirm_checkout(*, subscription: Subscription) -> Subscription:
    """The success page: re-read the Checkout Session (the URL's id is only a pointer) and, once
    it made the subscription, apply Stripe's subscription as its webhooks will, so the buyer
    sees it at once; the webhooks still arrive and find it done. Two requests."""
    if not subscription.checkout_session_id or subscription.stripe_subscription_id:
        return subscription
    session = gw.checkout_session_retrieve(session_id=subscription.checkout_session_id)
    if session.status != "complete" or not session.subscription_id:
        return subscription
    synced = subscription_sync(
        stripe_subscription_id=session.subscription_id, our_id=subscription.pk
    )
    return synced or subscription


# --- Applying Stripe's state ---------------------------------------------------------------------


def our_id_from_metadata(metadata: dict[str, str]) -> int | None:
    raw = metadata.get("subscription_id", "")
    return int(raw) if raw.isdigit() else None


def _locked(*, stripe_id: str, our_id: int | None, lock: bool = True) -> Subscription | None:
    # The plan comes along (``_apply`` compares prices), unlocked.
    qs = Subscription.objects.select_related("plan")
    if lock:
        qs = qs.select_for_update(of=("self",))
    found = qs.filter(stripe_subscription_id=stripe_id).first() if stripe_id else None
    if found is None and our_id is not None:
        found = qs.filter(pk=our_id).first()
    return found


def _send(kind: str, subscription_id: int, invoice_id: int | None = None) -> None:
    from subscriptions import tasks

    transaction.on_commit(
        functools.partial(tasks.send_subscription_email.delay, subscription_id, kind, invoice_id)
    )


def subscription_sync(
    *, stripe_subscription_id: str, our_id: int | None = None, as_of: dt.datetime | None = None
) -> Subscription | None:
    """Bring our subscription in line with Stripe's current one (re-read, under our row's lock,
    so two events applied at once end in the newest state). ``as_of`` is the event's time; the
    row remembers the newest applied. Returns None for a subscription that is not ours."""
    with transaction.atomic():
        sub = _locked(stripe_id=stripe_subscription_id, our_id=our_id)
        if sub is None:
            current = gw.subscription_retrieve(subscription_id=stripe_subscription_id)
            sub = _locked(stripe_id="", our_id=our_id_from_metadata(current.metadata))
            if sub is None:
                return None
        else:
            current = gw.subscription_retrieve(subscription_id=stripe_subscription_id)
        _apply(sub, current, as_of=as_of)
        return sub


def subscription_mirror(
    sub: Subscription, current: gw.Subscription, *, as_of: dt.datetime | None = None
) -> None:
    """Set our row's fields from Stripe's subscription ``current`` (not saved, no email): what
    ``_apply`` saves, and what an import of existing subscriptions writes in bulk."""
    flat = next((i for i in current.items if i.usage_type != "metered"), None)
    metered = next((i for i in current.items if i.usage_type == "metered"), None)
    status = current.status if current.status in S.values else sub.status
    sub.stripe_subscription_id = current.id
    sub.status = status
    sub.stripe_customer_id = current.customer_id or sub.stripe_customer_id
    sub.stripe_price_id = flat.price_id if flat else ""
    sub.stripe_usage_price_id = metered.price_id if metered else ""
    if flat is not None:
        sub.amount = flat.unit_amount * max(flat.quantity, 1)
        sub.interval = flat.interval
    sub.current_period_start = _ts(current.current_period_start)
    sub.current_period_end = _ts(current.current_period_end)
    sub.cancel_at_period_end = current.cancel_at_period_end
    sub.trial_end = _ts(current.trial_end)
    sub.canceled_at = _ts(current.canceled_at)
    sub.ended_at = _ts(current.ended_at)
    sub.latest_invoice_id = current.latest_invoice_id
    # The plan follows the price the subscription is on (a change made in the portal too).
    if flat and flat.price_id != sub.plan.stripe_price_id:
        moved = Plan.objects.filter(seller_id=sub.seller_id, stripe_price_id=flat.price_id).first()
        if moved is not None:
            sub.plan = moved
    if status in (S.TRIALING, S.ACTIVE) and sub.started_at is None:
        sub.started_at = timezone.now()
    if status in (S.ACTIVE, S.TRIALING):
        sub.payment_failed_at = None
        sub.next_payment_attempt = None
        sub.pay_url = ""
    now = timezone.now()
    sub.stripe_synced_at = max(filter(None, [sub.stripe_synced_at, as_of or now]))


def _apply(sub: Subscription, current: gw.Subscription, *, as_of: dt.datetime | None) -> None:
    before = sub.status
    subscription_mirror(sub, current, as_of=as_of)
    status = sub.status
    sub.save()
    if before == status:
        return
    if before in (S.PAST_DUE, S.UNPAID) and status == S.ACTIVE:
        _send("reactivated_buyer", sub.pk)
        _send("reactivated_seller", sub.pk)
    elif status in (S.CANCELED, S.UNPAID) and before not in (S.PENDING, S.INCOMPLETE):
        _send("ended_buyer", sub.pk)
        _send("ended_seller", sub.pk)
    elif status in (S.TRIALING, S.ACTIVE) and before in (S.PENDING, S.INCOMPLETE):
        _send("started_seller", sub.pk)


#: An invoice's statuses in the order Stripe moves them (paid and void are final); what an
#: event's payload says is applied only when it moves our row forward.
INVOICE_RANK = {"draft": 0, "open": 1, "uncollectible": 2, "paid": 3, "void": 3}
#: Events after which the subscription itself may have changed at Stripe (paid, failed,
#: voided ...): the invoice is re-read once, its subscription and payment expanded. The others
#: (``invoice.created``, ``invoice.finalized``) only tell the invoice's own progress: their
#: payload is what Stripe's docs say it is, the invoice at that moment.
VERIFIED_EVENTS = frozenset(
    {
        "invoice.updated",
        "invoice.paid",
        "invoice.payment_succeeded",
        "invoice.payment_failed",
        "invoice.payment_action_required",
        "invoice.marked_uncollectible",
        "invoice.voided",
    }
)


def _invoice_fields(row: SubscriptionInvoice, invoice: gw.Invoice) -> None:
    row.status = invoice.status
    row.billing_reason = invoice.billing_reason
    row.currency = invoice.currency
    row.amount_due = invoice.amount_due
    row.amount_paid = invoice.amount_paid
    row.attempt_count = invoice.attempt_count
    row.next_payment_attempt = _ts(invoice.next_payment_attempt)
    row.hosted_invoice_url = invoice.hosted_invoice_url
    row.period_start = _ts(invoice.period_start)
    row.period_end = _ts(invoice.period_end)
    row.created = _ts(invoice.created)
    row.paid_at = _ts(invoice.paid_at)


def _settled(row: SubscriptionInvoice | None, sub: Subscription, as_of: dt.datetime | None) -> bool:
    """A paid invoice whose charge we know, on a subscription already re-read for this event's
    moment or later: a duplicate, or the twin ``invoice.payment_succeeded`` of an
    ``invoice.paid`` just applied. Nothing left to learn from Stripe."""
    return (
        row is not None
        and row.status == "paid"
        and (bool(row.charge_id) or row.amount_paid == 0)
        and as_of is not None
        and sub.stripe_synced_at is not None
        and sub.stripe_synced_at >= as_of
    )


def invoice_sync(
    *,
    stripe_invoice_id: str,
    event_type: str,
    as_of: dt.datetime | None,
    told: dict[str, Any] | None = None,
) -> None:
    """Record one of our subscriptions' invoices, and the subscription as it stands after it.

    ``told`` is the event's invoice (``data.object``). ``invoice.created`` / ``finalized``
    are recorded from it without any request, and only when it moves our row forward (a late
    ``invoice.created`` never turns a paid invoice back into a draft). Events after which the
    subscription may have changed (``VERIFIED_EVENTS``) re-read the invoice in one request
    with its subscription and payment expanded, under our subscription's row lock (two events
    applied at once end in Stripe's newest state); a paid invoice already applied for this
    moment (``invoice.payment_succeeded`` after ``invoice.paid``, a duplicate) needs none.

    Dunning: a failed payment emails the buyer once per attempt (the page to pay, the next
    retry); 3-D Secure asks the buyer to confirm. A paid invoice tells the money side
    (``signals.invoice_paid``) its charge."""
    said = gw.Invoice.from_stripe(told) if told else None
    if said is not None and not said.subscription_id:
        return
    # One transaction (the event pipeline's own when it runs us: no savepoint needed). Locks,
    # when both are taken, in one order: the subscription's row, then the invoice's (two of an
    # invoice's events handled at once by two workers would otherwise deadlock).
    with transaction.atomic(savepoint=False):
        if said is not None and event_type not in VERIFIED_EVENTS:
            # The invoice's own progress: our row only (locked), never back. A row we do not
            # have yet is created under its subscription's lock, as the re-reading events
            # create it: ``invoice.created`` and ``invoice.finalized`` of a renewal handled at
            # once meet at the lock instead of both inserting it.
            row = _invoice_locked(stripe_invoice_id)
            if row is None:
                owner = _locked(
                    stripe_id=said.subscription_id,
                    our_id=our_id_from_metadata(said.subscription_metadata),
                )
                if owner is None:
                    return  # not one of ours
                row = _invoice_locked(stripe_invoice_id)
                if row is None:
                    row = SubscriptionInvoice(
                        stripe_invoice_id=stripe_invoice_id, subscription=owner
                    )
            if row.pk is not None and INVOICE_RANK.get(said.status, -1) <= INVOICE_RANK.get(
                row.status, -1
            ):
                return  # older news than what we have
            _invoice_fields(row, said)
            row.save()
            return
        if said is not None:
            stripe_id, metadata = said.subscription_id, said.subscription_metadata
        else:
            state = gw.invoice_retrieve_state(invoice_id=stripe_invoice_id)
            if state.subscription is None:
                return
            stripe_id, metadata = state.subscription.id, state.invoice.subscription_metadata
        sub = _locked(stripe_id=stripe_id, our_id=our_id_from_metadata(metadata))
        if sub is None:
            return  # not one of ours
        row = _invoice_locked(stripe_invoice_id)
        if said is not None and row is not None and _settled(row, sub, as_of):
            return
        if said is not None:
            # Under our subscription's lock: what is applied last is what Stripe has now.
            state = gw.invoice_retrieve_state(invoice_id=stripe_invoice_id)
        if state.subscription is not None:
            _apply(sub, state.subscription, as_of=as_of)
        _invoice_applied(sub, row, state, event_type=event_type)


def _invoice_locked(stripe_invoice_id: str) -> SubscriptionInvoice | None:
    return (
        SubscriptionInvoice.objects.select_for_update(of=("self",))
        .filter(stripe_invoice_id=stripe_invoice_id)
        .first()
    )


def _invoice_applied(
    sub: Subscription,
    row: SubscriptionInvoice | None,
    state: gw.InvoiceState,
    *,
    event_type: str,
) -> None:
    """Our invoice row as Stripe has it now (re-read), dunning emails, the paid charge."""
    invoice = state.invoice
    if row is None:
        row = SubscriptionInvoice(stripe_invoice_id=invoice.id, subscription=sub)
    _invoice_fields(row, invoice)
    notified = set(row.notified)
    collectable = invoice.status in ("open", "uncollectible")
    if collectable and event_type == "invoice.payment_failed":
        key = f"failed-{invoice.attempt_count}"
        if key not in notified and invoice.billing_reason != "subscription_create":
            notified.add(key)
            if row.pk is None:
                row.save()
            _send("payment_failed", sub.pk, row.pk)
        if sub.status in (S.PAST_DUE, S.UNPAID, S.ACTIVE):
            sub.payment_failed_at = sub.payment_failed_at or timezone.now()
            sub.save(update_fields=["payment_failed_at"])
    elif collectable and event_type == "invoice.payment_action_required":
        key = f"action-{invoice.attempt_count}"
        if key not in notified:
            notified.add(key)
            if row.pk is None:
                row.save()
            _send("action_required", sub.pk, row.pk)
    row.notified = sorted(notified)
    newly_paid = invoice.status == "paid" and not row.charge_id and bool(state.charge_id)
    if newly_paid:
        row.charge_id = state.charge_id
    elif invoice.status == "paid" and not row.charge_id and invoice.amount_paid > 0:
        logger.warning("invoice %s: paid, its charge not found", invoice.id)
    row.save()
    if sub.status in (S.PAST_DUE, S.UNPAID):
        _dunning_refresh(sub)
    if newly_paid:
        charge_id = row.charge_id
        transaction.on_commit(
            lambda: invoice_paid.send(sender=SubscriptionInvoice, charge_id=charge_id)
        )


def _dunning_refresh(sub: Subscription) -> None:
    """What the buyer of a past-due or unpaid subscription is shown (locked row): the link to
    pay its oldest open invoice Stripe tried to collect, and the soonest next attempt. From our
    invoice rows, so it does not depend on which invoice's event came last (a renewal can fail
    while an earlier one is still open; a paid one no longer counts)."""
    failed = list(sub.invoices.filter(status="open", attempt_count__gt=0).order_by("created", "id"))
    attempts = [i.next_payment_attempt for i in failed if i.next_payment_attempt]
    sub.pay_url = failed[0].hosted_invoice_url if failed else ""
    sub.next_payment_attempt = min(attempts) if attempts else None
    sub.save(update_fields=["pay_url", "next_payment_attempt"])


def trial_will_end(*, stripe_subscription_id: str) -> None:
    """Stripe says the trial ends in 3 days: warn the buyer (once per trial end)."""
    sub = subscription_sync(stripe_subscription_id=stripe_subscription_id)
    if sub is not None and sub.status == S.TRIALING:
        _send("trial_will_end", sub.pk)


# --- Managing -------------------------------------------------------------------------------------


def _live_for_buyer(*, buyer: Any, subscription_id: int) -> Subscription:
    sub = (
        Subscription.objects.select_related("plan", "seller")
        .filter(buyer=buyer, pk=subscription_id)
        .first()
    )
    if sub is None:
        raise UserFacingError("No such subscription.")
    if not sub.is_live or sub.stripe_subscription_id is None:
        raise UserFacingError("This subscription can no longer be changed.")
    return sub


@dataclass(frozen=True)
class ChangePreview:
    plan: Plan
    proration_date: int
    amount_due: Money  # the next invoice with the change
    prorations: Money  # what the change itself adds (credit for the unused time included)
    lines: tuple[tuple[str, Money], ...]
    next_payment: dt.datetime | None


def _change_items(sub: Subscription, current: gw.Subscription, plan: Plan) -> list[gw.ItemChange]:
    flat = next((i for i in current.items if i.usage_type != "metered"), None)
    metered = next((i for i in current.items if i.usage_type == "metered"), None)
    changes = [gw.ItemChange(item_id=flat.id if flat else "", price_id=plan.stripe_price_id)]
    if metered is not None and plan.stripe_usage_price_id != metered.price_id:
        if plan.has_usage:
            changes.append(gw.ItemChange(item_id=metered.id, price_id=plan.stripe_usage_price_id))
        else:
            changes.append(gw.ItemChange(item_id=metered.id, deleted=True))
    elif metered is None and plan.has_usage:
        changes.append(gw.ItemChange(price_id=plan.stripe_usage_price_id))
    return changes


def _target_plan(sub: Subscription, plan_id: int) -> Plan:
    if sub.cancel_at_period_end:
        # Stripe has no next invoice to preview or prorate onto: it ends with its period.
        raise UserFacingError(
            "This subscription ends with its current period: keep it first, then change plan."
        )
    plan = (
        Plan.objects.filter(pk=plan_id, listing_id=sub.plan.listing_id, is_active=True)
        .select_related("listing")
        .first()
    )
    if plan is None:
        raise UserFacingError("Choose one of this listing's plans.")
    if plan.pk == sub.plan_id and sub.stripe_price_id == plan.stripe_price_id:
        raise UserFacingError("You are already on this plan.")
    if plan.currency != sub.currency:
        raise UserFacingError("This plan is in another currency.")
    if not plan.in_stripe:
        plan = plan_push_to_stripe(plan_id=plan.pk)
    return plan


def subscription_change_preview(*, buyer: Any, subscription_id: int, plan_id: int) -> ChangePreview:
    """What moving to ``plan_id`` now costs: Stripe's preview of the next invoice with the
    prorations (``invoices.create_preview``), for a proration date the confirmation reuses."""
    sub = _live_for_buyer(buyer=buyer, subscription_id=subscription_id)
    plan = _target_plan(sub, plan_id)
    assert sub.stripe_subscription_id
    current = gw.subscription_retrieve(subscription_id=sub.stripe_subscription_id)
    when = gw.stripe_now()
    preview = gw.invoice_create_preview(
        customer_id=sub.stripe_customer_id,
        subscription_id=sub.stripe_subscription_id,
        changes=_change_items(sub, current, plan),
        proration_date=when,
    )
    prorations = sum(line.amount for line in preview.lines if line.proration)
    return ChangePreview(
        plan=plan,
        proration_date=when,
        amount_due=Money(preview.amount_due, sub.currency),
        prorations=Money(prorations, sub.currency),
        lines=tuple((line.description, Money(line.amount, sub.currency)) for line in preview.lines),
        next_payment=_ts(preview.period_end) if preview.period_end else sub.current_period_end,
    )


def subscription_change_plan(
    *, buyer: Any, subscription_id: int, plan_id: int, proration_date: int
) -> Subscription:
    """Move to another plan of the same listing, prorated as of ``proration_date`` (the one the
    preview showed, so the next invoice is what the buyer saw). A proration date older than a
    day or in the future is refused (preview again)."""
    sub = _live_for_buyer(buyer=buyer, subscription_id=subscription_id)
    plan = _target_plan(sub, plan_id)
    now = gw.stripe_now()
    if not now - 86400 <= proration_date <= now + 60:
        raise UserFacingError("This price preview is too old: please look at it again.")
    assert sub.stripe_subscription_id
    current = gw.subscription_retrieve(subscription_id=sub.stripe_subscription_id)
    updated = gw.subscription_change_items(
        subscription_id=sub.stripe_subscription_id,
        changes=_change_items(sub, current, plan),
        proration_date=proration_date,
        key=gw.idempotency_key(
            "subscription", sub.pk, "plan", plan.pk, plan.price_version, proration_date, _state(sub)
        ),
    )
    with transaction.atomic():
        locked = Subscription.objects.select_for_update().get(pk=sub.pk)
        locked.plan = plan
        locked.save(update_fields=["plan", "updated_at"])
        _apply(locked, updated, as_of=None)
    return locked


def _state(sub: Subscription) -> int:
    """The version of our row a change is asked from (its last save, in microseconds), for the
    change's idempotency key: a double click on the same state is one request to Stripe, while
    asking again after another change (cancel, resume, cancel in one second; a plan change, its
    reverse, then the change again) is a new one, not a replay of the first answer."""
    return int(sub.updated_at.timestamp() * 1_000_000)


def subscription_set_cancel(*, buyer: Any, subscription_id: int, cancel: bool) -> Subscription:
    """Cancel at the end of the period (``cancel=True``) or resume before it ends."""
    sub = _live_for_buyer(buyer=buyer, subscription_id=subscription_id)
    assert sub.stripe_subscription_id
    updated = gw.subscription_set_cancel_at_period_end(
        subscription_id=sub.stripe_subscription_id,
        cancel=cancel,
        key=gw.idempotency_key(
            "subscription", sub.pk, "cancel" if cancel else "resume", _state(sub)
        ),
    )
    with transaction.atomic():
        locked = Subscription.objects.select_for_update().get(pk=sub.pk)
        _apply(locked, updated, as_of=None)
    return locked


def subscription_cancel_now(*, buyer: Any, subscription_id: int) -> Subscription:
    """End the subscription at once; the unused time is credited when the platform's setting
    ``SUBSCRIPTIONS_PRORATE_ON_CANCEL`` says so."""
    sub = _live_for_buyer(buyer=buyer, subscription_id=subscription_id)
    assert sub.stripe_subscription_id
    updated = gw.subscription_cancel_now(
        subscription_id=sub.stripe_subscription_id,
        prorate=settings.SUBSCRIPTIONS_PRORATE_ON_CANCEL,
    )
    with transaction.atomic():
        locked = Subscription.objects.select_for_update().get(pk=sub.pk)
        _apply(locked, updated, as_of=None)
    return locked


def subscription_portal_url(*, buyer: Any, subscription_id: int) -> str:
    """A link to Stripe's customer portal (cards, invoices, cancel), back to our page."""
    sub = Subscription.objects.filter(buyer=buyer, pk=subscription_id).first()
    if sub is None or not sub.stripe_customer_id:
        raise UserFacingError("No such subscription.")
    return gw.billing_portal_session_create(
        customer_id=sub.stripe_customer_id,
        return_url=_absolute(reverse("subscriptions:detail", args=[sub.pk])),
        request_key=str(int(timezone.now().timestamp())),
    )


# --- Usage ----------------------------------------------------------------------------------------


def _subscriber_for_seller(*, seller: Seller, subscription_id: int) -> Subscription:
    sub = (
        Subscription.objects.select_related("plan")
        .filter(seller=seller, pk=subscription_id)
        .first()
    )
    if sub is None:
        raise UserFacingError("No such subscriber.")
    return sub


def _check_usage_target(sub: Subscription) -> None:
    if not sub.has_access:
        raise UserFacingError("This buyer is not subscribed (any more): usage is not recorded.")
    if not sub.plan.has_usage:
        raise UserFacingError("This subscriber's plan has no usage-based part.")


def _parse_quantity(raw: object) -> int:
    text = str(raw).strip()
    if not re.fullmatch(r"-?\d+", text):
        raise UserFacingError("Usage is a whole number of units, e.g. 3.", field="quantity")
    value = int(text)
    if value < 0:
        raise UserFacingError(
            "Usage cannot be negative: correct a record instead.", field="quantity"
        )
    if value == 0:
        raise UserFacingError("Usage must be at least 1 unit.", field="quantity")
    if value > MAX_USAGE_PER_RECORD:
        raise UserFacingError(
            f"At most {MAX_USAGE_PER_RECORD:,} units per record.", field="quantity"
        )
    return value


def usage_record(
    *, seller: Seller, subscription_id: int, quantity: object, note: str = ""
) -> UsageRecord:
    """Record usage for one of the seller's subscribers: saved first, then sent to Stripe as
    a meter event with ``identifier`` ``usage-<id>`` (a retry, ``usage_send``, never counts
    twice). Refuses a plan without usage, a buyer not subscribed, zero or negative units."""
    sub = _subscriber_for_seller(seller=seller, subscription_id=subscription_id)
    _check_usage_target(sub)
    value = _parse_quantity(quantity)
    if not sub.stripe_usage_price_id:
        raise UserFacingError(
            "This subscription has no usage-based price at Stripe: the buyer should change to "
            "the plan again to add it."
        )
    record = UsageRecord.objects.create(
        subscription=sub, quantity=value, note=note[:200], occurred_at=timezone.now()
    )
    return usage_send(record_id=record.pk)


def usage_send(*, record_id: int) -> UsageRecord:
    """Send a pending usage record to Stripe (again): same identifier, counted once."""
    record = UsageRecord.objects.select_related("subscription__plan").get(pk=record_id)
    if record.status != UsageRecord.Status.PENDING:
        return record
    sub = record.subscription
    try:
        gw.meter_event_create(
            event_name=sub.plan.meter_event_name,
            customer_id=sub.stripe_customer_id,
            value=record.quantity,
            identifier=record.identifier,
            timestamp=min(int(record.occurred_at.timestamp()), gw.stripe_now()),
        )
    except gw.GatewayError as exc:
        UsageRecord.objects.filter(pk=record.pk).update(last_error=exc.message[:255])
        raise UserFacingError(
            "Stripe could not record this usage right now; it is saved and will be sent again."
        ) from exc
    UsageRecord.objects.filter(pk=record.pk).update(
        status=UsageRecord.Status.SENT, sent_at=timezone.now(), last_error=""
    )
    record.refresh_from_db()
    return record


def usage_correct(
    *, seller: Seller, record_id: int, quantity: object, note: str = ""
) -> UsageRecord | None:
    """Correct a sent record: its meter event is canceled (a meter event adjustment) and, when
    ``quantity`` is more than 0, a new record replaces it. Returns the new record (None when
    the usage was only removed)."""
    record = (
        UsageRecord.objects.select_related("subscription__plan")
        .filter(subscription__seller=seller, pk=record_id)
        .first()
    )
    if record is None:
        raise UserFacingError("No such usage record.")
    if record.status == UsageRecord.Status.CANCELED:
        raise UserFacingError("This record was already corrected.")
    text = str(quantity).strip()
    value = 0 if text == "0" else _parse_quantity(text)
    sub = record.subscription
    if record.status == UsageRecord.Status.SENT:
        gw.meter_event_cancel(event_name=sub.plan.meter_event_name, identifier=record.identifier)
    with transaction.atomic():
        UsageRecord.objects.filter(pk=record.pk).update(status=UsageRecord.Status.CANCELED)
        if value == 0:
            return None
        new = UsageRecord.objects.create(
            subscription=sub,
            quantity=value,
            note=(note or record.note)[:200],
            occurred_at=record.occurred_at,
            replaces=record,
        )
    return usage_send(record_id=new.pk)


@dataclass(frozen=True)
class CsvResult:
    recorded: int
    errors: tuple[str, ...]


def usage_import_csv(*, seller: Seller, rows: Iterable[str]) -> CsvResult:
    """Usage from a CSV (``subscription,quantity[,note]``, header optional): each good row is
    recorded; each bad row is reported with its line number and recorded nothing."""
    recorded = 0
    errors: list[str] = []
    reader = csv.reader(io.StringIO("\n".join(rows)))
    for number, row in enumerate(reader, start=1):
        if not row or not "".join(row).strip():
            continue
        if number == 1 and row[0].strip().lower() in ("subscription", "subscription_id"):
            continue
        raw_id = row[0].strip().lstrip("#")
        if not raw_id.isdigit() or len(row) < 2:
            errors.append(f"line {number}: expected subscription number, quantity")
            continue
        try:
            usage_record(
                seller=seller,
                subscription_id=int(raw_id),
                quantity=row[1],
                note=row[2].strip() if len(row) > 2 else "",
            )
            recorded += 1
        except UserFacingError as exc:
            errors.append(f"line {number}: {exc.message}")
    return CsvResult(recorded=recorded, errors=tuple(errors))
