"""Subscriptions sold by sellers: plans on listings, buyers' subscriptions, their invoices and
usage records.

A ``Plan`` belongs to one listing (a listing with plans is sold by subscription): a flat price
per month or year, optional free trial days, and an optional usage-based part (a price per unit
of a meter the seller names). Its Stripe Product, Prices and Billing Meter live on the platform
account; a changed price is a new Stripe Price (``price_version``), and subscribers already on
the old one keep it until they change plan.

A ``Subscription`` mirrors a Stripe subscription (its status is Stripe's), created on our side
before Checkout so that Stripe's metadata names it. ``stripe_synced_at`` is the newest Stripe
state applied: the handlers re-read the subscription from Stripe and never apply an older one.
Amounts are integer minor units of ``currency`` (marketplace/money.py), never floats. The
services in ``subscriptions/services.py`` are the only writers.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models
from django.db.models import Q

from buyers.aftersale.models import REPORT_MAX, AnsweredRequest
from marketplace.money import Money
from sellers.models import Listing, Seller

MAX_TRIAL_DAYS = 730  # Stripe's limit on trial_period_days


class Plan(models.Model):
    class Interval(models.TextChoices):
        MONTH = "month", "Monthly"
        YEAR = "year", "Yearly"

    listing = models.ForeignKey(Listing, on_delete=models.PROTECT, related_name="plans")
    # The listing's seller, kept here so every read is scoped to the seller in one query.
    seller = models.ForeignKey(Seller, on_delete=models.PROTECT, related_name="plans")
    name = models.CharField(max_length=80)
    amount = models.PositiveBigIntegerField()  # per interval, minor units of ``currency``
    currency = models.CharField(max_length=3)
    interval = models.CharField(max_length=8, choices=Interval.choices)
    trial_days = models.PositiveSmallIntegerField(default=0)
    # Optional usage-based part: ``usage_unit_amount`` per unit of the meter ``meter_name``.
    meter_name = models.CharField(max_length=60, blank=True)
    usage_unit_amount = models.PositiveBigIntegerField(null=True, blank=True)
    is_active = models.BooleanField(default=True)
    # Stripe (platform account). ``price_version`` goes up with each change of price.
    price_version = models.PositiveIntegerField(default=1)
    stripe_product_id = models.CharField(max_length=255, blank=True)
    stripe_price_id = models.CharField(max_length=255, blank=True)
    stripe_meter_id = models.CharField(max_length=255, blank=True)
    stripe_usage_price_id = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["amount", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["seller", "meter_name"],
                condition=~Q(meter_name=""),
                name="plan_meter_name_unique_per_seller",
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="plan_amount_positive"),
            models.CheckConstraint(
                condition=Q(trial_days__lte=MAX_TRIAL_DAYS), name="plan_trial_within_stripe_limit"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.price.format()} / {self.interval})"

    @property
    def price(self) -> Money:
        return Money(self.amount, self.currency)

    @property
    def usage_price(self) -> Money | None:
        if self.usage_unit_amount is None:
            return None
        return Money(self.usage_unit_amount, self.currency)

    @property
    def has_usage(self) -> bool:
        return bool(self.meter_name)

    @property
    def meter_event_name(self) -> str:
        """The meter's ``event_name`` in Stripe: unique on the platform, from our id."""
        return f"plan_{self.pk}_usage"

    @property
    def monthly_amount(self) -> int:
        """The flat part per month (MRR): a yearly plan counts a twelfth, rounded down."""
        return self.amount // 12 if self.interval == self.Interval.YEAR else self.amount

    @property
    def in_stripe(self) -> bool:
        return bool(self.stripe_price_id) and (
            not self.has_usage or bool(self.stripe_usage_price_id)
        )


class Subscription(models.Model):
    class Status(models.TextChoices):
        # Ours, before Stripe has a subscription: the buyer is on Checkout.
        PENDING = "pending", "Awaiting checkout"
        # Stripe's.
        INCOMPLETE = "incomplete", "Incomplete"
        INCOMPLETE_EXPIRED = "incomplete_expired", "Expired before payment"
        TRIALING = "trialing", "Free trial"
        ACTIVE = "active", "Active"
        PAST_DUE = "past_due", "Payment past due"
        UNPAID = "unpaid", "Unpaid"
        CANCELED = "canceled", "Canceled"
        PAUSED = "paused", "Paused"

    # What the buyer can use: access stops for the others.
    WITH_ACCESS = frozenset({Status.TRIALING, Status.ACTIVE, Status.PAST_DUE})
    ENDED = frozenset({Status.CANCELED, Status.INCOMPLETE_EXPIRED})

    buyer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="subscriptions"
    )
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="subscriptions")
    seller = models.ForeignKey(Seller, on_delete=models.PROTECT, related_name="subscriptions")
    status = models.CharField(
        max_length=20, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    currency = models.CharField(max_length=3)
    # The application fee percentage given to Stripe (from the fee rules when subscribing).
    application_fee_percent = models.DecimalField(max_digits=5, decimal_places=2)
    stripe_customer_id = models.CharField(max_length=255)
    stripe_subscription_id = models.CharField(max_length=255, unique=True, null=True, blank=True)
    checkout_session_id = models.CharField(max_length=255, blank=True)
    checkout_url = models.URLField(max_length=2000, blank=True)
    # The prices the subscription is on at Stripe (flat and usage), as of the last sync.
    stripe_price_id = models.CharField(max_length=255, blank=True)
    stripe_usage_price_id = models.CharField(max_length=255, blank=True)
    # The flat price per interval the subscription pays at Stripe (its price, not the plan's
    # current one: old subscribers keep theirs), and that interval.
    amount = models.BigIntegerField(default=0)
    interval = models.CharField(max_length=8, blank=True)
    current_period_start = models.DateTimeField(null=True, blank=True)
    current_period_end = models.DateTimeField(null=True, blank=True)
    cancel_at_period_end = models.BooleanField(default=False)
    trial_end = models.DateTimeField(null=True, blank=True)
    canceled_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    latest_invoice_id = models.CharField(max_length=255, blank=True)
    # Dunning: the open invoice Stripe is retrying, where to pay it, and the next attempt.
    payment_failed_at = models.DateTimeField(null=True, blank=True)
    next_payment_attempt = models.DateTimeField(null=True, blank=True)
    pay_url = models.URLField(max_length=2000, blank=True)
    # The newest Stripe state applied (the event's or the re-read's time): never go back.
    stripe_synced_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)  # first trialing/active
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["buyer", "-created_at"]),
            models.Index(fields=["seller", "status"]),
        ]

    def __str__(self) -> str:
        return f"Subscription #{self.pk}"

    @property
    def price(self) -> Money:
        return Money(self.amount or self.plan.amount, self.currency)

    @property
    def monthly_amount(self) -> int:
        """What it brings per month (MRR): a yearly price counts a twelfth, rounded down."""
        amount = self.amount or self.plan.amount
        return amount // 12 if (self.interval or self.plan.interval) == "year" else amount

    @property
    def next_invoice_at(self) -> dt.datetime | None:
        """When Stripe invoices next (the period's or trial's end), None when it will not."""
        if self.status not in self.WITH_ACCESS or self.cancel_at_period_end:
            return None
        return self.current_period_end

    @property
    def has_access(self) -> bool:
        return self.status in self.WITH_ACCESS

    @property
    def is_live(self) -> bool:
        """Stripe has it and it has not ended: it can be changed, canceled, resumed."""
        return bool(self.stripe_subscription_id) and self.status not in self.ENDED | {
            self.Status.PENDING,
            self.Status.INCOMPLETE,
        }


class SubscriptionInvoice(models.Model):
    """A Stripe invoice of one of our subscriptions (each paid one is a destination charge)."""

    subscription = models.ForeignKey(
        Subscription, on_delete=models.PROTECT, related_name="invoices"
    )
    stripe_invoice_id = models.CharField(max_length=255, unique=True)
    status = models.CharField(max_length=20)
    billing_reason = models.CharField(max_length=40, blank=True)
    currency = models.CharField(max_length=3)
    amount_due = models.BigIntegerField(default=0)
    amount_paid = models.BigIntegerField(default=0)
    attempt_count = models.PositiveIntegerField(default=0)
    next_payment_attempt = models.DateTimeField(null=True, blank=True)
    hosted_invoice_url = models.URLField(max_length=2000, blank=True)
    charge_id = models.CharField(max_length=255, blank=True, db_index=True)
    period_start = models.DateTimeField(null=True, blank=True)
    period_end = models.DateTimeField(null=True, blank=True)
    created = models.DateTimeField(null=True, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    # What Stripe refunded of the paid charge (its cumulative ``amount_refunded``): only grows.
    amount_refunded = models.BigIntegerField(default=0)
    # Emails already sent for this invoice (payment_failed-<attempt>, action_required...).
    notified = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-created", "-id"]

    def __str__(self) -> str:
        return self.stripe_invoice_id

    @property
    def total(self) -> Money:
        return Money(self.amount_due, self.currency)

    @property
    def refundable_amount(self) -> int:
        """What the buyer paid and has not been refunded yet (minor units), as far as we know."""
        return max(self.amount_paid - self.amount_refunded, 0) if self.status == "paid" else 0


class UsageRecord(models.Model):
    """Units of a plan's meter a seller recorded for a subscriber: one Stripe meter event
    (``identifier`` from our id, so a retry never counts twice). A correction cancels the
    event (a meter event adjustment) and, for a new quantity, records a new one."""

    class Status(models.TextChoices):
        PENDING = "pending", "Not sent yet"
        SENT = "sent", "Recorded"
        CANCELED = "canceled", "Corrected (canceled)"

    subscription = models.ForeignKey(
        Subscription, on_delete=models.PROTECT, related_name="usage_records"
    )
    quantity = models.PositiveIntegerField()
    note = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    # The record this one corrects (its event was canceled).
    replaces = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="replaced_by"
    )
    occurred_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]

    def __str__(self) -> str:
        return f"{self.quantity} unit(s), subscription #{self.subscription_id}"

    @property
    def identifier(self) -> str:
        return f"usage-{self.pk}"


REQUEST_MAX = REPORT_MAX


class InvoiceRefundRequest(AnsweredRequest):
    """The buyer asks for a refund of one paid invoice of their subscription (the after-sale's
    request for an order, ``buyers.aftersale.ProblemReport``, belongs to an order; this one to an
    invoice). One open request per invoice. The seller grants it by refunding the invoice (the
    refund page, ``payouts/invoice_refund_views.py``, marks it granted) or declines it with a
    reason the buyer reads; the buyer may then ask again."""

    class Status(models.TextChoices):
        OPEN = "open", "Waiting for the seller"
        DECLINED = "declined", "Declined by the seller"
        GRANTED = "granted", "Refunded"

    class Reason(models.TextChoices):
        NOT_AS_DESCRIBED = "not_as_described", "It is not as described"
        NOT_USED = "not_used", "I could not use it"
        UNWANTED_RENEWAL = "unwanted_renewal", "I did not mean to renew"
        OTHER = "other", "Something else"

    invoice = models.ForeignKey(
        SubscriptionInvoice, on_delete=models.PROTECT, related_name="refund_requests"
    )
    buyer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    reason = models.CharField(max_length=32, choices=Reason.choices)
    message = models.TextField(max_length=REQUEST_MAX)
    amount = models.PositiveBigIntegerField(
        null=True,
        blank=True,
        help_text="Minor units asked back; empty: what remains of the invoice",
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["invoice"],
                condition=Q(status="open"),
                name="invoicerefundrequest_one_open_per_invoice",
            ),
            models.CheckConstraint(
                condition=Q(amount__isnull=True) | Q(amount__gt=0),
                name="invoicerefundrequest_amount_positive",
            ),
        ]

    def __str__(self) -> str:
        return f"refund request {self.pk} on invoice {self.invoice_id} ({self.status})"

    @property
    def asked(self) -> Money:
        """What the buyer asked back: their amount, or what remains of the invoice."""
        return Money(self.amount or self.invoice.refundable_amount, self.invoice.currency)
