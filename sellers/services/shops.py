"""Becoming a seller and the shop itself: the shop's address and currency, its profile, and the
platform's decisions on it (suspend, reinstate, clear the admins' flag), each kept in the audit
log.
"""

from __future__ import annotations

import re

from django.conf import settings
from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.utils import timezone

from marketplace.audit.services import Action, audit_record, snapshot
from marketplace.errors import UserFacingError
from sellers.countries import SUPPORTED_COUNTRIES
from sellers.models import Seller

SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{1,48}[a-z0-9])$")


RESERVED_SLUGS = frozenset(
    [
        "admin",
        "api",
        "sell",
        "sellers",
        "shop",
        "shops",
        "new",
        "edit",
        "login",
        "logout",
        "signup",
        "accounts",
        "money",
        "sandbox",
        "stripe",
        "static",
        "media",
        "checkout",
        "orders",
        "cart",
        "help",
        "support",
        "about",
    ]
)


def validate_shop_slug(slug: str, *, exclude_seller_id: int | None = None) -> str:
    """Normalise and check a shop slug: 3-50 of a-z, 0-9 and inner hyphens, not reserved, free."""
    slug = (slug or "").strip().lower()
    if not SLUG_RE.match(slug) or "--" in slug:
        raise UserFacingError(
            "Use 3 to 50 lower-case letters, digits and hyphens, starting and ending with a "
            "letter or digit.",
            field="slug",
        )
    if slug in RESERVED_SLUGS:
        raise UserFacingError("That shop address is reserved; pick another.", field="slug")
    taken = Seller.objects.filter(slug=slug)
    if exclude_seller_id is not None:
        taken = taken.exclude(pk=exclude_seller_id)
    if taken.exists():
        raise UserFacingError("That shop address is taken; pick another.", field="slug")
    return slug


def validate_currency(currency: str) -> str:
    code = (currency or "").strip().lower()
    if code not in settings.MARKETPLACE_CURRENCIES:
        allowed = ", ".join(c.upper() for c in settings.MARKETPLACE_CURRENCIES)
        raise UserFacingError(
            f"{code.upper() or 'That'} is not a currency this marketplace supports ({allowed}).",
            field="currency",
        )
    return code


def _require_connectable(seller: Seller) -> None:
    if seller.status == Seller.Status.DISCONNECTED:
        raise UserFacingError(
            "Your Stripe account is disconnected from this marketplace; contact us to reconnect."
        )
    if seller.status == Seller.Status.SUSPENDED:
        raise UserFacingError("Your shop is suspended; contact us.")


def seller_create(
    *, user: User, display_name: str, slug: str, country: str, default_currency: str
) -> Seller:
    """Make ``user`` a seller (no Stripe account yet: see ``seller_ensure_account``).

    Raises UserFacingError (with ``field``) for a user who already sells, a bad or taken slug,
    an unsupported country or currency. Writes one row or nothing.
    """
    if Seller.objects.filter(user=user).exists():
        raise UserFacingError("You already have a shop.")
    display_name = (display_name or "").strip()
    if not display_name:
        raise UserFacingError("Give your shop a name.", field="display_name")
    slug = validate_shop_slug(slug)
    country = (country or "").strip().upper()
    if country not in SUPPORTED_COUNTRIES:
        raise UserFacingError("Sellers from that country are not supported yet.", field="country")
    currency = validate_currency(default_currency)
    try:
        with transaction.atomic():
            return Seller.objects.create(
                user=user,
                display_name=display_name[:80],
                slug=slug,
                country=country,
                default_currency=currency,
            )
    except IntegrityError:
        # Lost a race for the slug (or a double submit created the seller first).
        if Seller.objects.filter(user=user).exists():
            raise UserFacingError("You already have a shop.") from None
        raise UserFacingError("That shop address is taken; pick another.", field="slug") from None


# What the audit log keeps of a suspension or reinstatement.
STATUS_FIELDS = ["status", "status_reason", "status_changed_at"]


@transaction.atomic
def seller_suspend(*, seller: Seller, reason: str = "") -> Seller:
    """Suspend ``seller`` (platform decision): listings hidden, no new checkouts. Idempotent.
    A change is written to the audit log (who, from where, status before and after)."""
    locked = Seller.objects.select_for_update().get(pk=seller.pk)
    if locked.status == Seller.Status.DISCONNECTED:
        raise UserFacingError("A disconnected seller cannot be suspended.")
    if locked.status != Seller.Status.SUSPENDED:
        before = snapshot(locked, STATUS_FIELDS)
        locked.status = Seller.Status.SUSPENDED
        locked.status_reason = reason.strip()[:255]
        locked.status_changed_at = timezone.now()
        locked.save()
        audit_record(
            action=Action.SELLER_SUSPEND,
            target=locked,
            summary=locked.status_reason,
            before=before,
            after=snapshot(locked, STATUS_FIELDS),
        )
    return locked


@transaction.atomic
def seller_reinstate(*, seller: Seller) -> Seller:
    """Lift a suspension: the seller's published listings are visible again. Idempotent.
    A change is written to the audit log."""
    locked = Seller.objects.select_for_update().get(pk=seller.pk)
    if locked.status == Seller.Status.DISCONNECTED:
        raise UserFacingError("A disconnected seller needs a new Stripe account, not reinstating.")
    if locked.status != Seller.Status.ACTIVE:
        before = snapshot(locked, STATUS_FIELDS)
        locked.status = Seller.Status.ACTIVE
        locked.status_reason = ""
        locked.status_changed_at = timezone.now()
        locked.save()
        audit_record(
            action=Action.SELLER_REINSTATE,
            target=locked,
            before=before,
            after=snapshot(locked, STATUS_FIELDS),
        )
    return locked


def seller_clear_attention(*, seller: Seller) -> Seller:
    """An admin has looked at the seller: clear the attention flag."""
    Seller.objects.filter(pk=seller.pk).update(needs_attention=False, updated_at=timezone.now())
    seller.refresh_from_db()
    return seller


def seller_update_profile(*, seller: Seller, display_name: str, default_currency: str) -> Seller:
    """Change the shop's display name and default currency."""
    display_name = (display_name or "").strip()
    if not display_name:
        raise UserFacingError("Give your shop a name.", field="display_name")
    seller.display_name = display_name[:80]
    seller.default_currency = validate_currency(default_currency)
    seller.save(update_fields=["display_name", "default_currency", "updated_at"])
    return seller
