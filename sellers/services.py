"""Writes of the sellers app: becoming a seller, the Stripe account mirror, listings.

Stripe calls go through ``marketplace.stripe_gateway`` only. Services that call Stripe and then
write must not run inside a transaction that could roll the write back: the Stripe object exists
as soon as Stripe answers, so its id is committed right away (no orphan account unrecorded).
"""

from __future__ import annotations

import functools
import logging
import re
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

from django.conf import settings
from django.contrib.auth.models import User
from django.core.files.uploadedfile import UploadedFile
from django.core.mail import mail_admins, send_mail
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from marketplace import stripe_gateway as gateway
from marketplace.audit.services import Action, audit_record, snapshot
from marketplace.errors import UserFacingError
from marketplace.money import Money
from sellers.countries import SUPPORTED_COUNTRIES
from sellers.images import MAX_IMAGES_PER_LISTING, process_image
from sellers.models import Category, Listing, ListingImage, Seller

logger = logging.getLogger(__name__)

# Stripe accepts up to eight digits of minor units for most currencies (€999,999.99).
MAX_PRICE_MINOR = 99_999_999
MAX_STOCK = 1_000_000
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


# --- Becoming a seller ------------------------------------------------------------------------


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


def _require_connectable(seller: Seller) -> None:
    if seller.status == Seller.Status.DISCONNECTED:
        raise UserFacingError(
            "Your Stripe account is disconnected from this marketplace; contact us to reconnect."
        )
    if seller.status == Seller.Status.SUSPENDED:
        raise UserFacingError("Your shop is suspended; contact us.")


def seller_ensure_account(*, seller: Seller) -> Seller:
    """Give ``seller`` a Stripe connected account (Express dashboard) unless it has one.

    The account's id is committed as soon as Stripe returns it, before anything else can fail.
    A double submit reuses Stripe's idempotency (same key from our seller id) and the
    ``stripe_account_id IS NULL`` guard, so one seller never gets two accounts.
    Raises GatewayError when Stripe refuses (unsupported country) or is unreachable.
    """
    _require_connectable(seller)
    if seller.stripe_account_id:
        return seller
    account = gateway.account_create(
        seller_id=seller.pk, country=seller.country, email=seller.user.email
    )
    recorded = Seller.objects.filter(pk=seller.pk, stripe_account_id__isnull=True).update(
        stripe_account_id=account.id, updated_at=timezone.now()
    )
    seller.refresh_from_db()
    if not recorded and seller.stripe_account_id != account.id:
        logger.error(
            "seller %s already had account %s when Stripe returned %s",
            seller.pk,
            seller.stripe_account_id,
            account.id,
        )
    if seller.stripe_account_id == account.id:
        seller = seller_apply_account(seller_id=seller.pk, account=account, as_of=None)
    return seller


def _absolute(path: str) -> str:
    return f"{settings.SITE_URL}{path}"


def seller_onboarding_link(*, seller: Seller, update: bool = False) -> str:
    """A fresh Stripe-hosted onboarding link for ``seller``'s account; returns its URL.

    ``refresh_url`` is our refresh view for this account (makes a new link, owner only);
    ``return_url`` is the seller dashboard, which re-reads the account. With ``update`` the
    link also collects eventually-due requirements, so a seller can update details early
    (Express-dashboard accounts cannot get ``account_update`` links; Stripe refuses them, and
    the Express dashboard is where they edit bank and contact details).
    """
    _require_connectable(seller)
    if not seller.stripe_account_id:
        raise UserFacingError("Set up payments first.")
    link = gateway.account_link_create(
        account_id=seller.stripe_account_id,
        link_type="account_onboarding",
        refresh_url=_absolute(
            reverse("sellers:onboarding_refresh", args=[seller.stripe_account_id])
        ),
        return_url=_absolute(reverse("sellers:dashboard") + "?from=stripe"),
        request_key=uuid.uuid4().hex,
        collect_eventually_due=update,
    )
    return link.url


def seller_start_onboarding(*, seller: Seller) -> str:
    """Create the account if needed, then a fresh onboarding link; returns the link's URL."""
    seller = seller_ensure_account(seller=seller)
    return seller_onboarding_link(seller=seller)


def seller_dashboard_login_link(*, seller: Seller) -> str:
    """A single-use link into ``seller``'s Express dashboard (details submitted only)."""
    _require_connectable(seller)
    if not seller.stripe_account_id or not seller.details_submitted:
        raise UserFacingError("Finish onboarding first; then your Stripe dashboard opens here.")
    link = gateway.login_link_create(
        account_id=seller.stripe_account_id, request_key=uuid.uuid4().hex
    )
    return link.url


# --- The account mirror ---------------------------------------------------------------------


def _timestamp(value: int | None) -> datetime | None:
    if not value:
        return None
    return datetime.fromtimestamp(value, tz=UTC)


@transaction.atomic
def seller_apply_account(
    *, seller_id: int, account: gateway.Account, as_of: datetime | None
) -> Seller:
    """Copy a Stripe account's status (the gateway's ``Account``) onto the seller (row locked).

    ``as_of`` is the ``created`` of the event that asked for this state; an event older than the
    newest one applied is ignored, so events arriving out of order never move the mirror back.
    ``as_of=None`` means a fresh read outside any event (always applied). Either way
    ``account_refreshed_at`` records when we last read the account.
    Raises ValueError when the account is not this seller's.
    """
    seller = Seller.objects.select_for_update().get(pk=seller_id)
    return _apply_account(seller, account, as_of)


def _apply_account(seller: Seller, account: gateway.Account, as_of: datetime | None) -> Seller:
    """``seller_apply_account`` on a seller already locked by the caller (read once). Writes
    only the columns that changed (and when the account was read)."""
    if account.id != seller.stripe_account_id:
        raise ValueError(f"account {account.id} is not seller {seller.pk}'s")
    if as_of is not None and seller.account_synced_at and as_of < seller.account_synced_at:
        logger.info("ignoring stale state of %s (%s)", seller.stripe_account_id, as_of)
        return seller
    requirements = account.requirements
    known = set(seller.requirements_currently_due) | set(seller.requirements_past_due)
    was_onboarded = seller.details_submitted
    state: dict[str, object] = {
        "charges_enabled": account.charges_enabled,
        "payouts_enabled": account.payouts_enabled,
        "details_submitted": account.details_submitted,
        "requirements_currently_due": list(requirements.currently_due),
        "requirements_past_due": list(requirements.past_due),
        "requirements_eventually_due": list(requirements.eventually_due),
        "requirements_current_deadline": _timestamp(requirements.current_deadline),
        "requirements_disabled_reason": requirements.disabled_reason,
    }
    if as_of is not None:
        state["account_synced_at"] = as_of
    state["account_refreshed_at"] = timezone.now()
    changed = [name for name, value in state.items() if getattr(seller, name) != value]
    for name in changed:
        setattr(seller, name, state[name])
    seller.save(update_fields=[*changed, "updated_at"])
    due = set(seller.requirements_currently_due) | set(seller.requirements_past_due)
    if was_onboarded and due - known:
        # Stripe asks an onboarded seller for more: tell them once per new request.
        transaction.on_commit(functools.partial(_email_requirements_due, seller.pk))
    return seller


def _email_requirements_due(seller_id: int) -> None:
    from sellers import tasks

    tasks.send_requirements_due_email.delay(seller_id)


def seller_email_requirements_due(*, seller_id: int) -> None:
    """Email the seller what Stripe now needs (plain words), by when, and where to give it.

    Side effects: one email to the seller's address; nothing is stored."""
    from sellers.requirements import requirements_text

    seller = Seller.objects.select_related("user").get(pk=seller_id)
    needed = requirements_text(seller.requirements_past_due + seller.requirements_currently_due)
    if not needed or not seller.user.email:
        return
    deadline = (
        f" by {seller.requirements_current_deadline:%Y-%m-%d %H:%M} UTC"
        if seller.requirements_current_deadline
        else ""
    )
    lines = "\n".join(f"- {item}" for item in needed)
    send_mail(
        subject="Stripe needs more information to keep paying you",
        message=(
            f"Hello {seller.display_name},\n\n"
            f"Stripe, which handles the payments and payouts of your shop, needs more "
            f"information{deadline}:\n{lines}\n\n"
            "Until you give it, Stripe may pause your sales or payouts. Give it on Stripe's secure "
            f"page:\n{settings.SITE_URL}{reverse('sellers:onboarding_update')}\n"
        ),
        from_email=None,
        recipient_list=[seller.user.email],
    )


def seller_sync_account(*, seller: Seller) -> Seller:
    """Re-read ``seller``'s account from Stripe and update the mirror (raises GatewayError)."""
    if not seller.stripe_account_id:
        return seller
    account = gateway.account_retrieve(account_id=seller.stripe_account_id)
    return seller_apply_account(seller_id=seller.pk, account=account, as_of=None)


@transaction.atomic
def seller_account_updated(*, account_id: str, event_created: datetime) -> Seller | None:
    """Handle ``account.updated`` for ``account_id``: re-fetch the account (the payload may be
    stale) and apply it, unless a newer event was already applied. The seller row stays locked
    from before the fetch to after the write, so concurrent handlers apply fresh reads in order.
    Unknown accounts and disconnected sellers are ignored. Returns the seller, or None.
    """
    seller = Seller.objects.select_for_update().filter(stripe_account_id=account_id).first()
    if seller is None:
        return _adopt_unrecorded_account(account_id=account_id, event_created=event_created)
    if seller.status == Seller.Status.DISCONNECTED:
        return None
    if seller.account_synced_at and event_created < seller.account_synced_at:
        return seller
    account = gateway.account_retrieve(account_id=account_id)
    return _apply_account(seller, account, event_created)  # the row locked above: read once


def _adopt_unrecorded_account(*, account_id: str, event_created: datetime) -> Seller | None:
    """An event for an account we never recorded: if Stripe created it for one of our sellers
    (``metadata.seller_id``) and that seller has no account yet (the process died between
    Stripe's answer and our write), record it now instead of leaving an orphan."""
    try:
        account = gateway.account_retrieve(account_id=account_id)
    except gateway.GatewayError as exc:
        if exc.http_status in (403, 404):  # not (or no longer) connected to us
            logger.warning("account.updated for unknown account %s", account_id)
            return None
        raise
    seller_id = account.seller_id
    seller = (
        Seller.objects.select_for_update()
        .filter(pk=int(seller_id), stripe_account_id__isnull=True)
        .first()
        if seller_id.isdigit()
        else None
    )
    if seller is None:
        logger.warning("account.updated for unknown account %s", account_id)
        return None
    logger.warning("recording account %s of seller %s from an event", account_id, seller.pk)
    seller.stripe_account_id = account_id
    seller.save(update_fields=["stripe_account_id", "updated_at"])
    return seller_apply_account(seller_id=seller.pk, account=account, as_of=event_created)


def _notify_admins(subject: str, body: str) -> None:
    # After commit: a mail server hiccup must not undo the state change (the flag stays).
    try:
        mail_admins(subject, body)
    except Exception:
        logger.exception("could not email admins: %s", subject)


@transaction.atomic
def seller_mark_disconnected(*, account_id: str, event_created: datetime) -> Seller | None:
    """Handle ``account.application.deauthorized``: the seller disconnected their account.

    The seller becomes ``disconnected`` (listings hidden, nothing purchasable), is flagged for
    admins, and admins are emailed after commit. Idempotent: a repeat changes nothing.
    """
    seller = Seller.objects.select_for_update().filter(stripe_account_id=account_id).first()
    if seller is None:
        logger.warning("deauthorization of unknown account %s", account_id)
        return None
    if seller.status == Seller.Status.DISCONNECTED:
        return seller
    seller.status = Seller.Status.DISCONNECTED
    seller.status_reason = "The seller disconnected their Stripe account from the platform."
    seller.status_changed_at = timezone.now()
    seller.disconnected_at = event_created
    seller.charges_enabled = False
    seller.payouts_enabled = False
    seller.needs_attention = True
    seller.save()
    subject = f"Seller {seller.display_name} ({seller.slug}) disconnected their Stripe account"
    body = (
        f"Stripe account {account_id} of seller {seller.display_name} ({seller.user.email}) "
        "was disconnected from the platform. Their listings are hidden and nobody can buy "
        "from them. Check for open orders, refunds or disputes in the admin."
    )
    transaction.on_commit(lambda: _notify_admins(subject, body))
    return seller


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


# --- Listings -----------------------------------------------------------------------------------


def validate_price(price: Money) -> Money:
    validate_currency(price.currency)
    if price.amount <= 0:
        raise UserFacingError("The price must be more than zero.", field="price")
    if price.amount > MAX_PRICE_MINOR:
        limit = Money(MAX_PRICE_MINOR, price.currency)
        raise UserFacingError(f"The price can be at most {limit}.", field="price")
    return price


def _validate_stock(stock: int | None, *, committed: int = 0) -> int | None:
    if stock is None:
        return None
    if stock < 0:
        raise UserFacingError("Stock cannot be below zero.", field="stock")
    if stock > MAX_STOCK:
        raise UserFacingError(f"Stock can be at most {MAX_STOCK:,}.", field="stock")
    if stock < committed:
        raise UserFacingError(
            f"{committed} are already sold or held by buyers at checkout; stock cannot be lower.",
            field="stock",
        )
    return stock


def _add_images(listing: Listing, images: Sequence[UploadedFile[bytes]]) -> None:
    start = listing.images.count()
    if start + len(images) > MAX_IMAGES_PER_LISTING:
        raise UserFacingError(
            f"A listing can have at most {MAX_IMAGES_PER_LISTING} images.", field="images"
        )
    # Decode and resize every image before saving any, so a bad one saves nothing.
    processed = [process_image(upload) for upload in images]
    for offset, content in enumerate(processed):
        ListingImage.objects.create(listing=listing, image=content, position=start + offset)


@transaction.atomic
def listing_create(
    *,
    seller: Seller,
    title: str,
    description: str = "",
    category: Category | None = None,
    price: Money,
    stock: int | None,
    images: Sequence[UploadedFile[bytes]] = (),
    accepts_orders_first: bool = False,
) -> Listing:
    """Create a draft listing of ``seller`` with its images (resized and re-encoded).

    Only an active seller adds listings: a suspended or disconnected one gets UserFacingError.
    Raises UserFacingError (with ``field``) for a bad price, currency, stock or image; nothing is
    saved then. Publishing is a separate step (``listing_publish``).
    """
    _require_connectable(seller)
    title = (title or "").strip()
    if not title:
        raise UserFacingError("Give the listing a title.", field="title")
    validate_price(price)
    listing = Listing.objects.create(
        seller=seller,
        title=title[:120],
        description=(description or "").strip(),
        category=category,
        price_amount=price.amount,
        currency=price.currency,
        stock=_validate_stock(stock),
        accepts_orders_first=accepts_orders_first,
    )
    _add_images(listing, images)
    return listing


@transaction.atomic
def listing_update(
    *,
    listing: Listing,
    title: str,
    description: str = "",
    category: Category | None = None,
    price: Money,
    stock: int | None,
    new_images: Sequence[UploadedFile[bytes]] = (),
    remove_image_ids: Sequence[int] = (),
    accepts_orders_first: bool | None = None,
) -> Listing:
    """Change a listing's details, add images, remove images (all or nothing).

    Stock may not drop below what is sold or reserved. The price of past orders is stored on the
    orders, so changing it here affects new checkouts only; so does ``accepts_orders_first``
    (None: unchanged).
    """
    locked = Listing.objects.select_for_update().get(pk=listing.pk)
    if locked.status == Listing.Status.DELETED:
        raise UserFacingError("This listing was deleted.")
    title = (title or "").strip()
    if not title:
        raise UserFacingError("Give the listing a title.", field="title")
    validate_price(price)
    locked.title = title[:120]
    locked.description = (description or "").strip()
    locked.category = category
    locked.price_amount = price.amount
    locked.currency = price.currency
    locked.stock = _validate_stock(stock, committed=locked.sold + locked.reserved)
    if accepts_orders_first is not None:
        locked.accepts_orders_first = accepts_orders_first
    locked.save()
    if remove_image_ids:
        for image in locked.images.filter(pk__in=list(remove_image_ids)):
            _delete_image(image)
    _add_images(locked, new_images)
    return locked


def _delete_image(image: ListingImage) -> None:
    name = str(image.image.name)
    storage = image.image.storage
    image.delete()
    transaction.on_commit(lambda: storage.delete(name))


@transaction.atomic
def listing_image_delete(*, image: ListingImage) -> None:
    """Remove one image of a listing (the file goes after commit)."""
    _delete_image(image)


@transaction.atomic
def listing_publish(*, listing: Listing) -> Listing:
    """Put a draft or paused listing on sale. Only when the seller can take payments (active,
    charges enabled on their Stripe account); raises UserFacingError otherwise."""
    locked = Listing.objects.select_for_update().select_related("seller").get(pk=listing.pk)
    if locked.status == Listing.Status.DELETED:
        raise UserFacingError("This listing was deleted.")
    if not locked.seller.can_sell:
        raise UserFacingError(
            "You can publish once Stripe has enabled payments on your account: see the "
            "banner on your dashboard for what is missing."
        )
    if locked.status != Listing.Status.PUBLISHED:
        locked.status = Listing.Status.PUBLISHED
        locked.published_at = locked.published_at or timezone.now()
        locked.save(update_fields=["status", "published_at", "updated_at"])
    return locked


@transaction.atomic
def listing_pause(*, listing: Listing) -> Listing:
    """Take a published listing off sale for now (pending checkouts still complete)."""
    locked = Listing.objects.select_for_update().get(pk=listing.pk)
    if locked.status == Listing.Status.DELETED:
        raise UserFacingError("This listing was deleted.")
    if locked.status == Listing.Status.PUBLISHED:
        locked.status = Listing.Status.PAUSED
        locked.save(update_fields=["status", "updated_at"])
    return locked


@transaction.atomic
def listing_unpause(*, listing: Listing) -> Listing:
    """Put a paused listing back on sale (same rules as publishing)."""
    locked = Listing.objects.select_for_update().get(pk=listing.pk)
    if locked.status != Listing.Status.PAUSED:
        raise UserFacingError("Only a paused listing can be resumed.")
    return listing_publish(listing=listing)


@transaction.atomic
def listing_delete(*, listing: Listing) -> Listing:
    """Soft-delete: the listing disappears for everyone but stays for past orders."""
    locked = Listing.objects.select_for_update().get(pk=listing.pk)
    if locked.status != Listing.Status.DELETED:
        locked.status = Listing.Status.DELETED
        locked.save(update_fields=["status", "updated_at"])
    return locked
