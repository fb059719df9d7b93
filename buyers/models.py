"""Orders: one buyer paying one seller for one listing through a Stripe Checkout Session.

Amounts are integer minor units of ``currency`` (see marketplace/money.py), never floats. The
listing's title and price are copied onto the order when it is created (the snapshot), and the
application fee is stored then and never recomputed. Status only moves forward; the services in
``buyers/services.py`` are the only writers and enforce ``Order.TRANSITIONS``.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from marketplace.money import Money


class Order(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Awaiting payment"
        PAID = "paid", "Paid"
        FULFILLED = "fulfilled", "Shipped"
        CANCELED = "canceled", "Canceled"
        EXPIRED = "expired", "Expired"
        FAILED = "failed", "Payment failed"
        REFUNDED = "refunded", "Refunded"
        # The buyer's bank won a dispute: the payment went back to the buyer through the bank.
        DISPUTE_LOST = "dispute_lost", "Payment reversed by the bank"

    # Allowed moves. Canceled/expired/failed orders may still become paid (a payment that
    # arrives late, with stock still there) or refunded (late payment, stock gone): Stripe is
    # the source of truth for money, so a captured payment always wins over our own deadline.
    TRANSITIONS: dict[str, frozenset[str]] = {
        Status.PENDING: frozenset({"paid", "canceled", "expired", "failed", "refunded"}),
        Status.CANCELED: frozenset({"paid", "refunded"}),
        Status.EXPIRED: frozenset({"paid", "refunded"}),
        Status.FAILED: frozenset({"paid", "refunded"}),
        Status.PAID: frozenset({"fulfilled", "refunded", "dispute_lost"}),
        Status.FULFILLED: frozenset({"refunded", "dispute_lost"}),
        Status.REFUNDED: frozenset(),
        Status.DISPUTE_LOST: frozenset(),
    }
    # Statuses in which the order holds a reservation on the listing / has consumed stock.
    HOLDS_RESERVATION = frozenset({Status.PENDING})
    # Ended without the buyer paying (left Checkout, let it expire, card refused).
    ENDED_UNPAID = frozenset({Status.CANCELED, Status.EXPIRED, Status.FAILED})
    CONSUMED_STOCK = frozenset({Status.PAID, Status.FULFILLED, Status.DISPUTE_LOST})

    buyer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="orders"
    )
    seller = models.ForeignKey("sellers.Seller", on_delete=models.PROTECT, related_name="orders")
    listing = models.ForeignKey("sellers.Listing", on_delete=models.PROTECT, related_name="orders")
    # Sent by the buy form, so a double-submitted form finds the order the first submit made.
    client_token = models.UUIDField(default=uuid.uuid4, editable=False)

    # Snapshot of the listing at the time of the order.
    title = models.CharField(max_length=120)
    unit_amount = models.PositiveBigIntegerField(help_text="Price of one unit, minor units")
    quantity = models.PositiveIntegerField()
    currency = models.CharField(max_length=3)
    amount = models.PositiveBigIntegerField(help_text="unit_amount x quantity, minor units")
    # The platform's application fee, minor units, from sellers.fees.fee_quote at creation.
    application_fee_amount = models.PositiveBigIntegerField()
    buyer_email = models.EmailField()

    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    # The reservation (and the Checkout Session) end at this time; while a delayed payment
    # (SEPA Direct Debit) is processing, the end of the time the bank may take.
    expires_at = models.DateTimeField()
    # When Checkout completed with a delayed payment method still to clear (None otherwise).
    payment_processing_since = models.DateTimeField(null=True, blank=True)
    # Number of failed attempts to create the Checkout Session (each retry uses a new key).
    checkout_attempts = models.PositiveSmallIntegerField(default=0)
    checkout_last_error = models.CharField(max_length=255, blank=True)

    # Stripe objects (ids are unique where Stripe makes them one per order).
    checkout_session_id = models.CharField(max_length=255, unique=True, null=True, blank=True)
    checkout_url = models.URLField(max_length=2000, blank=True)
    payment_intent_id = models.CharField(max_length=255, blank=True)
    charge_id = models.CharField(max_length=255, blank=True)
    transfer_id = models.CharField(max_length=255, blank=True)
    application_fee_id = models.CharField(max_length=255, blank=True)
    receipt_url = models.URLField(max_length=2000, blank=True)
    refund_id = models.CharField(max_length=255, unique=True, null=True, blank=True)
    refunded_amount = models.PositiveBigIntegerField(default=0)
    # The buyer's bank disputed the payment: Stripe's dispute status ("" = no dispute) and the
    # deadline for evidence. Written by the payouts app, which owns disputes.
    dispute_status = models.CharField(max_length=32, blank=True)
    dispute_evidence_due_by = models.DateTimeField(null=True, blank=True)

    # Collected by Checkout when CHECKOUT_SHIPPING_COUNTRIES is set: name and address (Stripe's
    # address fields: line1, line2, postal_code, city, state, country).
    shipping_name = models.CharField(max_length=255, blank=True)
    shipping_address = models.JSONField(default=dict, blank=True)
    shipping_note = models.CharField(max_length=255, blank=True)
    # Given by the seller when marking the order shipped, shown to the buyer.
    tracking_carrier = models.CharField(max_length=64, blank=True)
    tracking_number = models.CharField(max_length=64, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    fulfilled_at = models.DateTimeField(null=True, blank=True)
    # The buyer asked to cancel: set before the session is expired in Stripe, so that the
    # checkout.session.expired webhook racing our own request records a cancel, not an expiry.
    cancel_requested_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(
        null=True, blank=True, help_text="When it was canceled, expired or failed"
    )
    refunded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["buyer", "-created_at"]),
            models.Index(fields=["seller", "-created_at"]),
            models.Index(fields=["status", "expires_at"]),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["buyer", "client_token"], name="order_unique_client_token_per_buyer"
            ),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="order_quantity_positive"),
            models.CheckConstraint(
                condition=Q(amount=F("unit_amount") * F("quantity")),
                name="order_amount_is_unit_times_quantity",
            ),
            models.CheckConstraint(
                condition=Q(application_fee_amount__lte=F("amount")),
                name="order_fee_within_amount",
            ),
            models.CheckConstraint(
                condition=Q(refunded_amount__lte=F("amount")),
                name="order_refund_within_amount",
            ),
        ]

    def __str__(self) -> str:
        return f"Order #{self.pk} {self.title} x{self.quantity}"

    @property
    def total(self) -> Money:
        return Money(self.amount, self.currency)

    @property
    def fee(self) -> Money:
        return Money(self.application_fee_amount, self.currency)

    @property
    def seller_share(self) -> Money:
        return self.total - self.fee

    @property
    def is_payable(self) -> bool:
        """The buyer may (still) go to Checkout for this order."""
        return self.status == self.Status.PENDING

    @property
    def shipping_lines(self) -> list[str]:
        """The shipping address as lines for a label (empty when none was collected)."""
        a = self.shipping_address or {}
        city = " ".join(str(a.get(k) or "") for k in ("postal_code", "city")).strip()
        parts = [a.get("line1"), a.get("line2"), city, a.get("state"), a.get("country")]
        return [str(part) for part in parts if part]

    def can_move_to(self, status: str) -> bool:
        return status in self.TRANSITIONS.get(self.status, frozenset())
