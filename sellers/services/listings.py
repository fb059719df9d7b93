"""Listings: price and stock checked, images processed, the status moves of a listing (publish,
pause, unpause, soft delete).
"""

from __future__ import annotations

from collections.abc import Sequence

from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone

from marketplace.errors import UserFacingError
from marketplace.money import Money
from sellers.images import MAX_IMAGES_PER_LISTING, process_image
from sellers.models import Category, Listing, ListingImage, Seller
from sellers.services.shops import _require_connectable, validate_currency

# Stripe accepts up to eight digits of minor units for most currencies (€999,999.99).
MAX_PRICE_MINOR = 99_999_999


MAX_STOCK = 1_000_000


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
