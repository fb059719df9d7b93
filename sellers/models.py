"""Sellers: the mirror of a Stripe connected account, and what they list for sale.

Amounts are integer minor units of ``currency`` (see marketplace/money.py), never floats.
"""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from marketplace.models import ImmutableModel
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
    # "I accept each order before it is charged": the buyer's card is only authorised, and
    # charged when the seller accepts (buyers/services/onsite.py, within ORDER_ACCEPT_WINDOW).
    # db_default too: rows written by code that predates the column (an older migration's
    # historical model) get False from the database.
    accepts_orders_first = models.BooleanField(
        default=False, db_default=False, verbose_name="I accept each order before it is charged"
    )
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


# --- Fee rules --------------------------------------------------------------------------------


class FeeRule(ImmutableModel):
    """One version of a fee rule. Rules are never edited in place: a change is a new row that
    ``supersedes`` the previous version (who and when kept); retiring a rule is a new version
    with ``is_active`` False. The *current* version of a rule is the one nothing supersedes.

    Terms: ``bps`` basis points of the amount plus ``fixed_fees[currency]`` minor units, raised to
    ``minimums[currency]`` and lowered to ``maximums[currency]`` when set. A rule applies only to
    the ``currencies`` it covers; the most specific current, active rule whose start is not in the
    future wins (seller > category > platform, then the newest start).
    """

    class Scope(models.TextChoices):
        PLATFORM = "platform", "Platform default"
        CATEGORY = "category", "Category"
        SELLER = "seller", "Seller"

    SPECIFICITY: ClassVar[dict[str, int]] = {"platform": 0, "category": 1, "seller": 2}

    scope = models.CharField(max_length=16, choices=Scope.choices)
    category = models.ForeignKey(
        Category, on_delete=models.PROTECT, null=True, blank=True, related_name="fee_rules"
    )
    seller = models.ForeignKey(
        Seller, on_delete=models.PROTECT, null=True, blank=True, related_name="fee_rules"
    )
    starts_on = models.DateField(help_text="The rule applies from this day (UTC) on")
    bps = models.PositiveIntegerField(help_text="Basis points of the amount (100 = 1 %)")
    # Lower-case currency codes the rule covers, e.g. ["eur", "usd"].
    currencies = models.JSONField(default=list)
    # {currency: minor units}; keys are a subset of ``currencies``.
    fixed_fees = models.JSONField(default=dict, blank=True)
    minimums = models.JSONField(default=dict, blank=True)
    maximums = models.JSONField(default=dict, blank=True)
    is_active = models.BooleanField(default=True, help_text="False: this version retires the rule")
    supersedes = models.OneToOneField(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="superseded_by",
        help_text="The previous version of this rule",
    )
    note = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        # The table keeps the name it had when the model lived in payouts (state-only move).
        db_table = "payouts_feerule"
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["scope", "starts_on"])]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(scope="platform", seller__isnull=True, category__isnull=True)
                    | Q(scope="category", seller__isnull=True, category__isnull=False)
                    | Q(scope="seller", seller__isnull=False, category__isnull=True)
                ),
                name="feerule_target_matches_scope",
            ),
            models.CheckConstraint(condition=Q(bps__lte=10_000), name="feerule_bps_at_most_100pc"),
        ]

    def __str__(self) -> str:
        return f"{self.target_label}: {self.bps} bps from {self.starts_on} (v{self.pk})"

    @property
    def target_label(self) -> str:
        if self.scope == self.Scope.SELLER and self.seller is not None:
            return f"Seller {self.seller.display_name}"
        if self.scope == self.Scope.CATEGORY and self.category is not None:
            return f"Category {self.category.name}"
        return "Platform"

    def currency_terms(self) -> list[str]:
        """Human summary per covered currency: 'EUR + €0.30, min €0.50, max €20.00'."""
        from marketplace.money import Money

        parts = []
        for currency in self.currencies:
            text = currency.upper()
            if self.fixed_fees.get(currency):
                text += f" + {Money(int(self.fixed_fees[currency]), currency)}"
            if self.minimums.get(currency) is not None:
                text += f", min {Money(int(self.minimums[currency]), currency)}"
            if self.maximums.get(currency) is not None:
                text += f", max {Money(int(self.maximums[currency]), currency)}"
            parts.append(text)
        return parts
