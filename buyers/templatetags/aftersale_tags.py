"""The after-sale's parts of the order and sale pages (a request's state, the conversation, the
review), read through the after-sale's selectors for the person viewing."""

from __future__ import annotations

import hashlib
from typing import Any

from django import template
from django.core.cache import cache
from django.template.loader import render_to_string
from django.utils.safestring import SafeString, mark_safe

from buyers.aftersale import selectors
from buyers.aftersale.forms import MessageForm
from buyers.aftersale.services import REPORTABLE
from buyers.models import Order
from sellers.models import Listing, Seller

register = template.Library()
REVIEWS_SHOWN = 20
# Bump when buyers/aftersale/_reviews.html changes, so that fragments cached by the previous
# release are not served by this one.
REVIEWS_FRAGMENT_VERSION = 1
REVIEWS_FRAGMENT_TTL = 24 * 3600  # seconds; keys change with the reviews, this bounds memory


def _panel(order: Order, side: str) -> dict[str, Any]:
    problems = list(selectors.order_problems(order=order))
    return {
        "order": order,
        "side": side,
        "problems": problems,
        "active": next((p for p in problems if p.is_active), None),
        "can_report": order.status in REPORTABLE,
        "review": selectors.order_review(order=order),
        "thread": list(selectors.order_messages(order=order)),
        "message_form": MessageForm(auto_id="msg_%s"),
    }


@register.inclusion_tag("buyers/aftersale/_order_panel.html")
def order_aftersale(order: Order) -> dict[str, Any]:
    """On the buyer's order page (the view found the order through ``buyer_orders``)."""
    return _panel(order, "buyer")


@register.inclusion_tag("buyers/aftersale/_sale_panel.html")
def sale_aftersale(order: Order) -> dict[str, Any]:
    """On the seller's sale page (the view found the order through ``seller_orders``)."""
    return _panel(order, "seller")


@register.simple_tag
def listing_reviews(listing: Listing) -> SafeString:
    """A listing's average rating and its latest reviews (hidden ones left out).

    The same for everyone, so rendered once per state of the listing's reviews and cached: one
    query (the rating, which also versions the set, see ``rating_and_version``) and one cache
    read per page view; the reviews themselves are read only when the set changed.
    """
    rating, version = selectors.rating_and_version(listing=listing)
    key = (
        "buyers:reviews:"
        + hashlib.blake2b(
            repr((REVIEWS_FRAGMENT_VERSION, listing.pk, version)).encode(), digest_size=16
        ).hexdigest()
    )
    html: str | None = cache.get(key)
    if html is None:
        reviews = selectors.listing_reviews(listing=listing)
        html = render_to_string(
            "buyers/aftersale/_reviews.html",
            {
                "reviews": list(reviews[:REVIEWS_SHOWN]) if rating.count else [],
                "rating": rating,
                "heading": "Reviews",
                "show_listing": False,  # on the listing's own page: no title per review
            },
        )
        cache.set(key, html, REVIEWS_FRAGMENT_TTL)
    return mark_safe(html)  # noqa: S308  # our own template's output


@register.inclusion_tag("buyers/aftersale/_reviews.html")
def shop_reviews(seller: Seller) -> dict[str, Any]:
    """A shop's average rating over all its sales and its latest reviews."""
    reviews = selectors.shop_reviews(seller=seller)
    return {
        "reviews": list(reviews[:REVIEWS_SHOWN]),
        "rating": selectors.rating_of(reviews),
        "heading": "Reviews of this shop",
        "show_listing": True,
    }


@register.filter
def stars(rating: int) -> str:
    """★★★★☆ for 4."""
    rating = max(0, min(int(rating or 0), 5))
    return "★" * rating + "☆" * (5 - rating)
