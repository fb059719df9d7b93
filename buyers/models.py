"""Purchases, orders and carts.

A buyer pays once for a ``Purchase`` (one Checkout Session, one charge, one receipt). It holds one
``Order`` per seller: what that seller ships, is paid for and refunds, with its ``OrderLine`` rows
(a snapshot of each listing's title and price when the purchase was made), that seller's
application fee (from the fee rules, stored then and never recomputed) and its own status. The
purchase's ``charge_type`` says how the sellers get their money (one place decides, by the number
of sellers): one seller, a destination charge with an application fee; several sellers, a charge
on the platform with ``transfer_group`` = the purchase and one Transfer per seller (the order's
``transfer_*`` fields), made by an idempotent job.

A ``CartItem`` is what a signed-in buyer put in their cart (an anonymous visitor's cart lives in
the session until they sign in). Amounts are integer minor units of ``currency`` (see
marketplace/money.py), never floats. Statuses only move forward; the services in
``buyers/services/`` and ``buyers/cart.py`` are the only writers.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from marketplace.money import Money


class Purchase(models.Model):
    """What the buyer pays once: one Checkout Session for the orders of one or more sellers."""

    class Status(models.TextChoices):
        PENDING = "pending", "Awaiting payment"
        # The card is authorised (capture_method=manual); charged when the seller accepts.
        AUTHORIZED = "authorized", "Awaiting the seller"
        PAID = "paid", "Paid"
        CANCELED = "canceled", "Canceled"
        EXPIRED = "expired", "Expired"
        FAILED = "failed", "Payment failed"
        REFUNDED = "refunded", "Refunded"

    class ChargeType(models.TextChoices):
        DESTINATION = "destination", "Destination charge (one seller)"
        SEPARATE = "separate", "Separate charge and transfers (several sellers)"

    TRANSITIONS: dict[str, frozenset[str]] = {
        Status.PENDING: frozenset(
            {"authorized", "paid", "canceled", "expired", "failed", "refunded"}
        ),
        Status.AUTHORIZED: frozenset({"paid", "canceled", "expired"}),
        Status.CANCELED: frozenset({"paid", "refunded"}),
        Status.EXPIRED: frozenset({"paid", "refunded"}),
        Status.FAILED: frozenset({"paid", "refunded"}),
        Status.PAID: frozenset({"refunded"}),
        Status.REFUNDED: frozenset(),
    }

    buyer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="purchases"
    )
    # Sent by the checkout form, so a double-submitted form finds the purchase the first made.
    client_token = models.UUIDField(default=uuid.uuid4, editable=False)
    charge_type = models.CharField(max_length=16, choices=ChargeType.choices)
    currency = models.CharField(max_length=3)
    # Sum of the orders' amounts / application fees, minor units of ``currency``.
    amount = models.PositiveBigIntegerField()
    application_fee_amount = models.PositiveBigIntegerField()
    buyer_email = models.EmailField()
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    # The reservation (and the Checkout Session) end at this time; while a delayed payment
    # (SEPA Direct Debit) is processing, the end of the time the bank may take.
    expires_at = models.DateTimeField()
    payment_processing_since = models.DateTimeField(null=True, blank=True)
    # Number of failed attempts to create the Checkout Session (each retry uses a new key).
    checkout_attempts = models.PositiveSmallIntegerField(default=0)
    checkout_last_error = models.CharField(max_length=255, blank=True)
    checkout_session_id = models.CharField(max_length=255, unique=True, null=True, blank=True)
    checkout_url = models.URLField(max_length=2000, blank=True)
    payment_intent_id = models.CharField(max_length=255, blank=True)
    charge_id = models.CharField(max_length=255, blank=True, db_index=True)
    receipt_url = models.URLField(max_length=2000, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    # The buyer asked to cancel: set before the session is expired in Stripe, so that the
    # checkout.session.expired webhook racing our own request records a cancel, not an expiry.
    cancel_requested_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    # On-site payment (buyers/services/onsite.py): a seller of a line accepts each order before it is
    # charged, so the PaymentIntent only authorises the card (capture_method=manual); once
    # authorised, the seller has until ``accept_by`` to accept (capture) or decline (cancel).
    needs_acceptance = models.BooleanField(default=False)
    authorized_at = models.DateTimeField(null=True, blank=True)
    accept_by = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["buyer", "-created_at"]),
            models.Index(fields=["status", "expires_at"]),
            models.Index(fields=["status", "accept_by"]),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["buyer", "client_token"], name="purchase_unique_client_token_per_buyer"
            ),
            models.CheckConstraint(
                condition=Q(application_fee_amount__lte=F("amount")),
                name="purchase_fee_within_amount",
            ),
        ]

    def __str__(self) -> str:
        return f"Purchase #{self.pk}"

    @property
    def total(self) -> Money:
        return Money(self.amount, self.currency)

    @property
    def transfer_group(self) -> str:
        """The ``transfer_group`` naming this purchase on its PaymentIntent and transfers."""
        return f"purchase-{self.pk}"

    @property
    def is_payable(self) -> bool:
        return self.status == self.Status.PENDING and self.payment_processing_since is None

    def can_move_to(self, status: str) -> bool:
        return status in self.TRANSITIONS.get(self.status, frozenset())


class Order(models.Model):
    """One seller's part of a purchase."""

    class Status(models.TextChoices):
        PENDING = "pending", "Awaiting payment"
        # Card authorised, not charged: the seller accepts (charge) or declines (released).
        AWAITING_SELLER = "awaiting_seller", "Awaiting the seller"
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
        Status.PENDING: frozenset(
            {"awaiting_seller", "paid", "canceled", "expired", "failed", "refunded"}
        ),
        Status.AWAITING_SELLER: frozenset({"paid", "canceled", "expired"}),
        Status.CANCELED: frozenset({"paid", "refunded"}),
        Status.EXPIRED: frozenset({"paid", "refunded"}),
        Status.FAILED: frozenset({"paid", "refunded"}),
        Status.PAID: frozenset({"fulfilled", "refunded", "dispute_lost"}),
        Status.FULFILLED: frozenset({"refunded", "dispute_lost"}),
        Status.REFUNDED: frozenset(),
        Status.DISPUTE_LOST: frozenset(),
    }
    # Statuses in which the order holds a reservation on the listing / has consumed stock.
    HOLDS_RESERVATION = frozenset({Status.PENDING, Status.AWAITING_SELLER})
    # Ended without the buyer paying (left Checkout, let it expire, card refused).
    ENDED_UNPAID = frozenset({Status.CANCELED, Status.EXPIRED, Status.FAILED})
    CONSUMED_STOCK = frozenset({Status.PAID, Status.FULFILLED, Status.DISPUTE_LOST})

    class TransferStatus(models.TextChoices):
        NONE = "", "Not a separate transfer"
        PENDING = "pending", "To be transferred"
        FAILED = "failed", "Transfer failed, will retry"
        PAID = "paid", "Transferred"

    purchase = models.ForeignKey(Purchase, on_delete=models.PROTECT, related_name="orders")
    buyer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="orders"
    )
    seller = models.ForeignKey("sellers.Seller", on_delete=models.PROTECT, related_name="orders")
    # The listing of a one-line order (for links and the pages that show one item); the lines
    # are the record of what was bought.
    listing = models.ForeignKey(
        "sellers.Listing", on_delete=models.PROTECT, related_name="orders", null=True, blank=True
    )
    client_token = models.UUIDField(default=uuid.uuid4, editable=False)

    # Summary of the lines (the first line's title, "+ n more"; total units).
    title = models.CharField(max_length=160)
    unit_amount = models.PositiveBigIntegerField(
        null=True, blank=True, help_text="Price of one unit of a one-line order, minor units"
    )
    quantity = models.PositiveIntegerField()
    currency = models.CharField(max_length=3)
    amount = models.PositiveBigIntegerField(help_text="Sum of the lines, minor units")
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

    # Stripe objects of the purchase's payment, copied here when known (several orders of one
    # purchase share them), and this order's own transfer, fee and refunds.
    # NULL until the purchase has a session (as the rows made before purchases hold it).
    checkout_session_id = models.CharField(  # noqa: DJ001
        max_length=255, null=True, blank=True, db_index=True
    )
    payment_intent_id = models.CharField(max_length=255, blank=True)
    charge_id = models.CharField(max_length=255, blank=True)
    transfer_id = models.CharField(max_length=255, blank=True)
    application_fee_id = models.CharField(max_length=255, blank=True)
    # Separate charges and transfers (several sellers): our job's transfer of this order's share.
    transfer_status = models.CharField(
        max_length=8, choices=TransferStatus.choices, default=TransferStatus.NONE, blank=True
    )
    transfer_attempts = models.PositiveSmallIntegerField(default=0)
    transfer_last_error = models.CharField(max_length=255, blank=True)
    transfer_next_attempt_at = models.DateTimeField(null=True, blank=True)
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
    # An order awaiting its seller: the units of each line (line id -> units) the seller
    # accepted, written before the capture so whoever records it (our request or the
    # payment_intent.succeeded webhook) cuts the order to the same lines.
    accepted_lines = models.JSONField(default=dict, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    fulfilled_at = models.DateTimeField(null=True, blank=True)
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
            models.UniqueConstraint(
                fields=["purchase", "seller"], name="order_one_per_seller_per_purchase"
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

    @property
    def transfer_amount(self) -> int:
        """What a separate transfer pays the seller: the order's lines minus its fee."""
        return self.amount - self.application_fee_amount


class OrderLine(models.Model):
    """One listing of an order, with the title and price it had when the purchase was made."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    listing = models.ForeignKey(
        "sellers.Listing", on_delete=models.PROTECT, related_name="order_lines"
    )
    title = models.CharField(max_length=120)
    unit_amount = models.PositiveBigIntegerField(help_text="Price of one unit, minor units")
    quantity = models.PositiveIntegerField()
    amount = models.PositiveBigIntegerField(help_text="unit_amount x quantity, minor units")

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["order", "listing"], name="orderline_one_per_listing"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="orderline_quantity_positive"),
            models.CheckConstraint(
                condition=Q(amount=F("unit_amount") * F("quantity")),
                name="orderline_amount_is_unit_times_quantity",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.title} x{self.quantity}"


class CartItem(models.Model):
    """A listing in a signed-in buyer's cart, with the price the buyer saw when adding it (so
    a price change is flagged, never silently charged)."""

    buyer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="cart_items"
    )
    listing = models.ForeignKey("sellers.Listing", on_delete=models.CASCADE, related_name="+")
    quantity = models.PositiveIntegerField()
    unit_amount_seen = models.PositiveBigIntegerField()
    currency_seen = models.CharField(max_length=3)
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["added_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["buyer", "listing"], name="cartitem_one_per_listing"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="cartitem_quantity_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.listing_id} x{self.quantity} in the cart of {self.buyer_id}"


class StripeCustomer(models.Model):
    """A buyer's Customer on the platform's Stripe account (saved cards live there), created on
    first need by ``buyers.customers.customer_for_buyer``."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="stripe_customer"
    )
    customer_id = models.CharField(max_length=255, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.customer_id} of user {self.user_id}"


# The after-sale's models (problem reports, messages, reviews) live in their own package.
from buyers.aftersale.models import OrderMessage, ProblemReport, Review  # noqa: E402

__all__ = [
    "CartItem",
    "Order",
    "OrderLine",
    "OrderMessage",
    "ProblemReport",
    "Purchase",
    "Review",
    "StripeCustomer",
]
