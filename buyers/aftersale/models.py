"""The models of the after-sale: problem reports, the messages of an order, reviews."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

MESSAGE_MAX = 2000
REVIEW_MAX = 2000
REPORT_MAX = 2000


class AnsweredRequest(models.Model):
    """What a buyer's request and its answer share: an order's ``ProblemReport`` here, a
    subscription invoice's ``subscriptions.InvoiceRefundRequest``. Who answered and when (a
    refusal's reason in ``answer``), and what refund granted it."""

    answer = models.TextField(max_length=REPORT_MAX, blank=True)
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    answered_at = models.DateTimeField(null=True, blank=True)
    refunded_amount = models.PositiveBigIntegerField(default=0)
    refund_request_id = models.BigIntegerField(
        null=True, blank=True, help_text="The payouts.RefundRequest that granted it"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class ProblemReport(AnsweredRequest):
    """The buyer reports a problem with an order or asks for a refund.

    One open report per order (open, declined or with the platform team). The seller grants it
    (a refund through ``payouts``, full or partial) or declines it with a reason; a declined one
    the buyer may hand to the platform team (escalated), whose answer closes it."""

    class Status(models.TextChoices):
        OPEN = "open", "Waiting for the seller"
        DECLINED = "declined", "Declined by the seller"
        ESCALATED = "escalated", "With the platform team"
        GRANTED = "granted", "Refunded"
        CLOSED = "closed", "Closed by the platform team"

    class Reason(models.TextChoices):
        NOT_RECEIVED = "not_received", "The order has not arrived"
        DAMAGED = "damaged", "It arrived damaged"
        NOT_AS_DESCRIBED = "not_as_described", "It is not as described"
        CHANGED_MIND = "changed_mind", "I changed my mind"
        OTHER = "other", "Something else"

    # Still waiting for an answer: a second report on the order is refused meanwhile.
    ACTIVE = frozenset({Status.OPEN, Status.DECLINED, Status.ESCALATED})

    order = models.ForeignKey("buyers.Order", on_delete=models.PROTECT, related_name="problems")
    buyer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    reason = models.CharField(max_length=32, choices=Reason.choices)
    message = models.TextField(max_length=REPORT_MAX)
    wants_refund = models.BooleanField(default=True)
    amount = models.PositiveBigIntegerField(
        null=True, blank=True, help_text="Minor units asked back; empty: what remains of the order"
    )
    # The items the refund is asked for, when the buyer chose items: {"<order line id>": units}
    # (``amount`` is then their price as paid).
    lines = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    escalated_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["order"],
                condition=Q(status__in=["open", "declined", "escalated"]),
                name="problemreport_one_active_per_order",
            ),
            models.CheckConstraint(
                condition=Q(amount__isnull=True) | Q(amount__gt=0),
                name="problemreport_amount_positive",
            ),
        ]

    def __str__(self) -> str:
        return f"problem report {self.pk} on order {self.order_id} ({self.status})"

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE

    def line_items(self) -> list[tuple[int, str]]:
        """``[(units, title)]`` of the items the refund is asked for (none: an amount)."""
        if not self.lines:
            return []
        titles = {line.pk: line.title for line in self.order.lines.all()}
        return [(int(n), titles.get(int(pk), "?")) for pk, n in self.lines.items() if int(n) > 0]


class OrderMessage(models.Model):
    """One message of the conversation between an order's buyer and its seller (staff may
    write too while a dispute or a problem report is open)."""

    class Role(models.TextChoices):
        BUYER = "buyer", "Buyer"
        SELLER = "seller", "Seller"
        STAFF = "staff", "Platform team"

    order = models.ForeignKey("buyers.Order", on_delete=models.PROTECT, related_name="messages")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    role = models.CharField(max_length=8, choices=Role.choices)
    body = models.TextField(max_length=MESSAGE_MAX)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["order", "created_at"])]

    def __str__(self) -> str:
        return f"message {self.pk} on order {self.order_id} by the {self.role}"


class Review(models.Model):
    """The buyer's rating (1 to 5) and text for a shipped order, once; the seller's reply,
    once; staff may hide an abusive one (audited)."""

    order = models.OneToOneField("buyers.Order", on_delete=models.PROTECT, related_name="review")
    buyer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    seller = models.ForeignKey("sellers.Seller", on_delete=models.PROTECT, related_name="reviews")
    listing = models.ForeignKey(
        "sellers.Listing",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="reviews",
    )
    rating = models.PositiveSmallIntegerField()
    body = models.TextField(max_length=REVIEW_MAX)
    reply = models.TextField(max_length=REVIEW_MAX, blank=True)
    replied_at = models.DateTimeField(null=True, blank=True)
    hidden_at = models.DateTimeField(null=True, blank=True)
    hidden_reason = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["listing", "-created_at"]),
            models.Index(fields=["seller", "-created_at"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(rating__gte=1) & Q(rating__lte=5), name="review_rating_1_to_5"
            )
        ]

    def __str__(self) -> str:
        return f"review {self.pk} of order {self.order_id}: {self.rating}/5"
