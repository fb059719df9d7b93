"""The after-sale's parts of the order and sale pages (a request's state, the conversation, the
review), read through the after-sale's selectors for the person viewing."""

from __future__ import annotations

from typing import Any

from django import template

from buyers.aftersale import selectors
from buyers.aftersale.forms import MessageForm
from buyers.aftersale.services import REPORTABLE
from buyers.models import Order
from sellers.models import Listing, Seller

register = template.Library()
REVIEWS_SHOWN = 20


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


@register.inclusion_tag("buyers/aftersale/_reviews.html")
def listing_reviews(listing: Listing) -> dict[str, Any]:
    """A listing's average rating and its latest reviews (hidden ones left out)."""
    reviews = selectors.listing_reviews(listing=listing)
    return {
        "reviews": list(reviews[:REVIEWS_SHOWN]),
        "rating": selectors.rating_of(reviews),
        "heading": "Reviews",
    }


@register.inclusion_tag("buyers/aftersale/_reviews.html")
def shop_reviews(seller: Seller) -> dict[str, Any]:
    """A shop's average rating over all its sales and its latest reviews."""
    reviews = selectors.shop_reviews(seller=seller)
    return {
        "reviews": list(reviews[:REVIEWS_SHOWN]),
        "rating": selectors.rating_of(reviews),
        "heading": "Reviews of this shop",
    }


@register.filter
def stars(rating: int) -> str:
    """★★★★☆ for 4."""
    rating = max(0, min(int(rating or 0), 5))
    return "★" * rating + "☆" * (5 - rating)
