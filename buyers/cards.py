"""Listing cards of the catalogue and shop pages, rendered once and cached.

A card's HTML depends only on what it shows, so its cache key is a digest of exactly those values
(title, price, first image, seller name/slug/able to sell, category, units left, reviews' count
and average, update time):
a change to any of them is a new key, hence visible on the next page view, with no invalidation
to forget. Everyone sees the same card (nothing in it depends on who is asking). Links are built by
formatting ids into a URL reversed once per process, not by one reversal per link.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from functools import cache as memoize

from django.core.cache import cache
from django.template.loader import get_template
from django.urls import reverse
from django.utils.safestring import SafeString, mark_safe

from buyers.selectors import CardListing

# Bump when components/listing_card.html changes, so that cards cached by the previous release
# are not served by this one.
CARD_VERSION = 3
CARD_TTL = 24 * 3600  # seconds; keys change with the content, so this only bounds memory use
_ID = 987654321
_SLUG = "zz-slug-zz"


@memoize
def _url_patterns() -> tuple[str, str]:
    listing = reverse("buyers:listing", args=[_ID]).replace(str(_ID), "{}")
    shop = reverse("buyers:shop", args=[_SLUG]).replace(_SLUG, "{}")
    return listing, shop


def _state(listing: CardListing) -> tuple[object, ...]:
    seller = listing.seller
    return (
        CARD_VERSION,
        listing.pk,
        listing.updated_at.isoformat(),
        listing.title,
        listing.price_amount,
        listing.currency,
        listing.first_image,
        seller.slug,
        seller.display_name,
        seller.can_sell,
        listing.category_name,
        listing.available,
        listing.reviews_count,
        listing.reviews_average,
    )


def _key(state: tuple[object, ...]) -> str:
    return "buyers:card:" + hashlib.blake2b(repr(state).encode(), digest_size=16).hexdigest()


def listing_cards(listings: Sequence[CardListing]) -> list[SafeString]:
    """The card HTML of each of ``listings``, in order: one cache round trip for the page, the
    template rendered only for cards not seen before."""
    keys = [_key(_state(listing)) for listing in listings]
    found: dict[str, str] = cache.get_many(keys) if keys else {}
    missing: dict[str, str] = {}
    listing_url, shop_url = _url_patterns()
    template = get_template("components/listing_card.html")
    cards = []
    for listing, key in zip(listings, keys, strict=True):
        html = found.get(key)
        if html is None:
            html = template.render(
                {
                    "listing": listing,
                    "listing_url": listing_url.format(listing.pk),
                    "shop_url": shop_url.format(listing.seller.slug),
                }
            )
            missing[key] = html
        cards.append(mark_safe(html))  # noqa: S308  # our own template's output
    if missing:
        cache.set_many(missing, CARD_TTL)
    return cards


def listing_cards_html(listings: Sequence[CardListing]) -> SafeString:
    """The cards of ``listings`` as one fragment (a template loop over them costs a node per card)."""
    return mark_safe("".join(listing_cards(listings)))  # noqa: S308  # our own template's output
