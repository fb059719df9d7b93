"""Reads of the subscriptions app, scoped to the person asking: a buyer sees only their own
subscriptions, a seller only their own plans and subscribers (another person's id is None, so
views answer 404); the platform's figures are for staff views only."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from sellers.models import Listing, Seller
from subscriptions.models import (
    InvoiceRefundRequest,
    Plan,
    Subscription,
    SubscriptionInvoice,
    UsageRecord,
)

S = Subscription.Status
CHURN_WINDOW = dt.timedelta(days=30)


def _user(user: Any) -> Any | None:
    return user if getattr(user, "is_authenticated", False) else None


def buyer_subscriptions(*, buyer: Any) -> QuerySet[Subscription]:
    """The buyer's subscriptions (not the checkouts they left, nor those Stripe closed unpaid
    after 23 hours), newest first."""
    if _user(buyer) is None:
        return Subscription.objects.none()
    return (
        Subscription.objects.filter(buyer=buyer)
        .exclude(status__in=[S.PENDING, S.INCOMPLETE_EXPIRED])
        .select_related("plan__listing", "seller")
    )


def buyer_checkout(*, buyer: Any, session_id: str) -> Subscription | None:
    """The buyer's subscription started by Checkout Session ``session_id`` (the success page's
    pointer), pending or not; None for anyone else's."""
    if _user(buyer) is None or not session_id:
        return None
    return (
        Subscription.objects.filter(buyer=buyer, checkout_session_id=session_id)
        .select_related("plan__listing", "seller")
        .first()
    )


def buyer_subscription(*, buyer: Any, subscription_id: int) -> Subscription | None:
    if _user(buyer) is None:
        return None
    return (
        Subscription.objects.filter(buyer=buyer, pk=subscription_id)
        .select_related("plan__listing", "seller")
        .first()
    )


def subscription_invoices(*, subscription: Subscription) -> QuerySet[SubscriptionInvoice]:
    """Invoices of a subscription the caller already got through a scoped selector."""
    return SubscriptionInvoice.objects.filter(subscription=subscription).exclude(status="draft")


def buyer_invoice(
    *, buyer: Any, subscription_id: int, invoice_id: int
) -> SubscriptionInvoice | None:
    """An invoice of the buyer's own subscription; None for anyone else's."""
    sub = buyer_subscription(buyer=buyer, subscription_id=subscription_id)
    if sub is None:
        return None
    return subscription_invoices(subscription=sub).filter(pk=invoice_id).first()


def invoice_refund_requests(*, subscription: Subscription) -> QuerySet[InvoiceRefundRequest]:
    """The refund requests on a subscription's invoices (one the caller already got through a
    scoped selector: the buyer's own, or the seller's subscriber), newest first."""
    return InvoiceRefundRequest.objects.filter(invoice__subscription=subscription).select_related(
        "invoice"
    )


def seller_refund_request(*, seller: Seller | None, request_id: int) -> InvoiceRefundRequest | None:
    """A refund request on an invoice of one of the seller's subscribers; None otherwise."""
    if seller is None:
        return None
    return (
        InvoiceRefundRequest.objects.filter(pk=request_id, invoice__subscription__seller=seller)
        .select_related("invoice__subscription")
        .first()
    )


def listing_plans(*, listing_id: int) -> list[Plan]:
    """The plans a buyer may subscribe to on a published listing."""
    return list(
        Plan.objects.filter(
            listing_id=listing_id, is_active=True, listing__status=Listing.Status.PUBLISHED
        ).select_related("listing__seller")
    )


def public_listing(*, listing_id: int) -> Listing | None:
    return (
        Listing.objects.filter(pk=listing_id, status=Listing.Status.PUBLISHED)
        .select_related("seller")
        .first()
    )


def switchable_plans(*, subscription: Subscription) -> list[Plan]:
    """The other plans of the subscription's listing, in its currency."""
    return list(
        Plan.objects.filter(
            listing_id=subscription.plan.listing_id,
            is_active=True,
            currency=subscription.currency,
        ).exclude(pk=subscription.plan_id)
    )


def seller_listing(*, seller: Seller | None, listing_id: int) -> Listing | None:
    if seller is None:
        return None
    return (
        Listing.objects.filter(seller=seller, pk=listing_id)
        .exclude(status=Listing.Status.DELETED)
        .first()
    )


def seller_plans(*, seller: Seller | None, listing_id: int | None = None) -> QuerySet[Plan]:
    if seller is None:
        return Plan.objects.none()
    qs = Plan.objects.filter(seller=seller).select_related("listing")
    if listing_id is not None:
        qs = qs.filter(listing_id=listing_id)
    return qs.annotate(
        live=Count("subscriptions", filter=Q(subscriptions__status__in=Subscription.WITH_ACCESS))
    )


def seller_plan(*, seller: Seller | None, plan_id: int) -> Plan | None:
    if seller is None:
        return None
    return Plan.objects.filter(seller=seller, pk=plan_id).select_related("listing").first()


def seller_subscribers(*, seller: Seller | None) -> QuerySet[Subscription]:
    if seller is None:
        return Subscription.objects.none()
    return (
        Subscription.objects.filter(seller=seller)
        .exclude(status__in=[S.PENDING, S.INCOMPLETE, S.INCOMPLETE_EXPIRED])
        .select_related("plan__listing", "buyer")
    )


def seller_subscribers_listed(*, seller: Seller | None) -> QuerySet[Subscription]:
    """The seller's subscribers as their list shows them: each with ``refund_asked``, whether the
    buyer has a refund request waiting for the seller's answer."""
    waiting = InvoiceRefundRequest.objects.filter(
        invoice__subscription=OuterRef("pk"), status=InvoiceRefundRequest.Status.OPEN
    )
    return seller_subscribers(seller=seller).annotate(refund_asked=Exists(waiting))


def seller_subscriber(*, seller: Seller | None, subscription_id: int) -> Subscription | None:
    return seller_subscribers(seller=seller).filter(pk=subscription_id).first()


def subscriber_usage(*, subscription: Subscription) -> QuerySet[UsageRecord]:
    return UsageRecord.objects.filter(subscription=subscription)


@dataclass
class Figures:
    """Recurring revenue figures: MRR per currency (minor units), counts over the window."""

    mrr: dict[str, int] = field(default_factory=dict)
    active: int = 0
    new: int = 0
    churned: int = 0
    past_due: int = 0

    @property
    def churn_rate(self) -> float | None:
        """Churned in the window over (active now + churned): a share for display only."""
        base = self.active + self.churned
        return None if base == 0 else self.churned / base


def _figures(
    qs: QuerySet[Subscription], *, zero_currency: str, now: dt.datetime | None = None
) -> Figures:
    """``zero_currency``: the currency a nil MRR is shown in (no live subscription)."""
    now = now or timezone.now()
    since = now - CHURN_WINDOW
    figures = Figures()
    mrr: dict[str, int] = defaultdict(int)
    live = qs.filter(status__in=[S.ACTIVE, S.PAST_DUE]).select_related("plan")
    for sub in live.only("amount", "interval", "currency", "plan__amount", "plan__interval"):
        mrr[sub.currency] += sub.monthly_amount
        figures.active += 1
    figures.mrr = dict(sorted(mrr.items())) or {zero_currency: 0}
    counts = qs.aggregate(
        new=Count("pk", filter=Q(started_at__gte=since)),
        churned=Count(
            "pk",
            filter=Q(status=S.CANCELED, ended_at__gte=since)
            | Q(status=S.UNPAID, updated_at__gte=since),
        ),
        past_due=Count("pk", filter=Q(status=S.PAST_DUE)),
    )
    figures.new = counts["new"]
    figures.churned = counts["churned"]
    figures.past_due = counts["past_due"]
    return figures


def seller_figures(*, seller: Seller | None) -> Figures:
    if seller is None:
        return Figures()
    return _figures(
        Subscription.objects.filter(seller=seller), zero_currency=seller.default_currency
    )


def platform_figures() -> Figures:
    """For staff pages only (the views check staff): every seller's subscriptions."""
    return _figures(Subscription.objects.all(), zero_currency=settings.MARKETPLACE_CURRENCIES[0])


def invoice_id_of_charge(*, charge_id: str) -> int | None:
    """Our invoice paid by this charge, if any (for a caller that already scoped the charge)."""
    if not charge_id:
        return None
    found = (
        SubscriptionInvoice.objects.filter(charge_id=charge_id).values_list("pk", flat=True).first()
    )
    return int(found) if found is not None else None
