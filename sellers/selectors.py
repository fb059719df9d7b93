"""Reads of sellers and listings. Each selector is scoped to the person asking, so a seller can
only ever reach their own account, listings and images: a selector answers None, or a queryset
without the object, for anything else, and the view answers 404 (no HTTP in the read layer).

Public selectors (``public_listings``, ``purchasable_listings``, ``listing_unavailable_reason``)
are the contract the buyers app builds its catalogue and checkout on.
"""

from __future__ import annotations

from typing import Any

from django.db.models import F, Prefetch, Q, QuerySet

from sellers.models import Category, Listing, ListingImage, Seller

TEMPORARILY_UNAVAILABLE = "Temporarily unavailable"


def seller_for_user(*, user: Any) -> Seller | None:
    """The seller profile of ``user``, or None (anonymous users and non-sellers)."""
    if not getattr(user, "is_authenticated", False):
        return None
    return Seller.objects.filter(user=user).first()


def seller_by_account_for_user(*, user: Any, account_id: str) -> Seller | None:
    """The seller of ``user`` if it owns the Stripe account ``account_id``; None otherwise."""
    seller = seller_for_user(user=user)
    if seller is None or not seller.stripe_account_id or seller.stripe_account_id != account_id:
        return None
    return seller


def _with_images(qs: QuerySet[Listing]) -> QuerySet[Listing]:
    return qs.select_related("seller", "category").prefetch_related(
        Prefetch("images", queryset=ListingImage.objects.order_by("position", "id"))
    )


def seller_listings(*, seller: Seller) -> QuerySet[Listing]:
    """The listings of ``seller`` that are not deleted, newest first."""
    return _with_images(
        Listing.objects.filter(seller=seller).exclude(status=Listing.Status.DELETED)
    ).order_by("-created_at", "-id")


def seller_listing_images(*, seller: Seller, listing_id: int) -> QuerySet[ListingImage]:
    """The images of one of ``seller``'s own listings (not deleted); empty for anyone else's."""
    return ListingImage.objects.filter(listing_id=listing_id, listing__seller=seller).exclude(
        listing__status=Listing.Status.DELETED
    )


def _in_stock() -> Q:
    return Q(stock__isnull=True) | Q(stock__gt=F("sold") + F("reserved"))


def public_listings() -> QuerySet[Listing]:
    """Listings anyone may see in the catalogue: published, by a seller who is neither suspended
    nor disconnected. Includes restricted sellers and sold-out listings, which show as
    unavailable (see ``listing_unavailable_reason``)."""
    return _with_images(
        Listing.objects.filter(
            status=Listing.Status.PUBLISHED,
            seller__status=Seller.Status.ACTIVE,
            seller__stripe_account_id__isnull=False,
        )
    ).order_by("-published_at", "-id")


def purchasable_listings() -> QuerySet[Listing]:
    """Listings a buyer can check out right now: published, seller active with charges enabled,
    in stock (or unlimited), not deleted."""
    return public_listings().filter(seller__charges_enabled=True).filter(_in_stock())


def listing_unavailable_reason(listing: Listing) -> str | None:
    """Why ``listing`` cannot be bought now, in words a buyer can read; None when it can.

    A seller whose Stripe account is restricted (charges disabled) makes their listings
    "Temporarily unavailable"; suspended or disconnected sellers' listings are not public at all.
    """
    seller = listing.seller
    if listing.status == Listing.Status.DELETED:
        return "This listing was removed by the seller."
    if seller.status != Seller.Status.ACTIVE:
        return "This shop is closed."
    if listing.status == Listing.Status.PAUSED:
        return "Paused by the seller."
    if listing.status != Listing.Status.PUBLISHED:
        return "Not for sale yet."
    if not seller.can_sell:
        return TEMPORARILY_UNAVAILABLE
    if listing.available == 0:
        return "Sold out."
    return None


def categories() -> QuerySet[Category]:
    return Category.objects.order_by("name")


def sellers_to_sync() -> QuerySet[Seller]:
    """Sellers whose Stripe account the periodic sync re-reads (connected, not disconnected)."""
    return (
        Seller.objects.filter(stripe_account_id__isnull=False)
        .exclude(status=Seller.Status.DISCONNECTED)
        .order_by("account_refreshed_at", "id")
    )
