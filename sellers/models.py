"""Sellers: the mirror of a Stripe connected account, and what they list for sale.

Amounts are integer minor units of ``currency`` (see marketplace/money.py), never floats.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from marketplace.money import Money


class Seller(models.Model):
    """A user who sells, mirrored from their Stripe connected account (Express dashboard).

    The account fields are a cache of Stripe's: they move only from ``account.updated`` events
    and explicit re-reads of the account through the gateway.
    """

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        SUSPENDED = "suspended", "Suspended by the platform"
        DISCONNECTED = "disconnected", "Disconnected from the platform"

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="seller"
    )
    display_name = models.CharField(max_length=80)
    slug = models.SlugField(max_length=50, unique=True)
    country = models.CharField(max_length=2, help_text="ISO 3166-1 alpha-2, e.g. FR")
    default_currency = models.CharField(max_length=3, default="eur")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)

    # Mirror of the Stripe account (acct_...). Recorded as soon as Stripe returns it.
    stripe_account_id = models.CharField(max_length=255, unique=True, null=True, blank=True)
    charges_enabled = models.BooleanField(default=False)
    payouts_enabled = models.BooleanField(default=False)
    details_submitted = models.BooleanField(default=False)
    requirements_currently_due = models.JSONField(default=list, blank=True)
    requirements_past_due = models.JSONField(default=list, blank=True)
    requirements_eventually_due = models.JSONField(default=list, blank=True)
    requirements_current_deadline = models.DateTimeField(null=True, blank=True)
    requirements_disabled_reason = models.CharField(max_length=255, blank=True)
    # Stripe's event ``created`` of the newest account event applied, so older events never win.
    account_synced_at = models.DateTimeField(null=True, blank=True)
    # When we last read the account from Stripe (dashboard re-read, periodic sync, or an event).
    account_refreshed_at = models.DateTimeField(null=True, blank=True)

    # Platform-side state: why the seller was suspended, when the account was disconnected, and
    # a flag for admins to look at the seller (set on deauthorization), cleared once handled.
    status_reason = models.CharField(max_length=255, blank=True)
    status_changed_at = models.DateTimeField(null=True, blank=True)
    disconnected_at = models.DateTimeField(null=True, blank=True)
    needs_attention = models.BooleanField(
        default=False, help_text="Something happened that an admin should look at"
    )

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["status", "charges_enabled"])]

    def __str__(self) -> str:
        return f"{self.display_name} ({self.slug})"

    @property
    def can_sell(self) -> bool:
        """Buyers may pay this seller: account able to charge, not suspended or disconnected."""
        return (
            self.status == self.Status.ACTIVE
            and self.charges_enabled
            and bool(self.stripe_account_id)
        )


class Category(models.Model):
    name = models.CharField(max_length=60, unique=True)
    slug = models.SlugField(max_length=60, unique=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "categories"

    def __str__(self) -> str:
        return self.name


class Listing(models.Model):
    """Something a seller sells. Stock: ``stock`` units ever added (None = unlimited);
    ``reserved`` held by pending checkouts; ``sold`` paid. Invariant: sold + reserved <= stock."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        PUBLISHED = "published", "Published"
        PAUSED = "paused", "Paused"
        DELETED = "deleted", "Deleted"

    seller = models.ForeignKey(Seller, on_delete=models.PROTECT, related_name="listings")
    title = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    category = models.ForeignKey(
        Category, on_delete=models.SET_NULL, null=True, blank=True, related_name="listings"
    )
    # Price of one unit in minor units of ``currency``.
    price_amount = models.PositiveBigIntegerField()
    currency = models.CharField(max_length=3)
    stock = models.PositiveIntegerField(null=True, blank=True, help_text="Empty for unlimited")
    reserved = models.PositiveIntegerField(default=0)
    sold = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    published_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            models.Index(fields=["status", "-created_at", "-id"]),
            models.Index(fields=["status", "price_amount", "id"]),
            models.Index(fields=["seller", "status"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(stock__isnull=True) | Q(stock__gte=F("sold") + F("reserved")),
                name="listing_sold_plus_reserved_within_stock",
            ),
            models.CheckConstraint(condition=Q(price_amount__gt=0), name="listing_price_positive"),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def price(self) -> Money:
        return Money(self.price_amount, self.currency)

    @property
    def available(self) -> int | None:
        """Units a buyer can still reserve; None when stock is unlimited."""
        if self.stock is None:
            return None
        return max(self.stock - self.sold - self.reserved, 0)


class ListingImage(models.Model):
    listing = models.ForeignKey(Listing, on_delete=models.CASCADE, related_name="images")
    image = models.ImageField(upload_to="listings/%Y/%m/")
    position = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return f"image {self.position} of listing {self.listing_id}"
