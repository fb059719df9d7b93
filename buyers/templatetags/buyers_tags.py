"""Template tags of the buyers app for other apps' pages (the seller dashboard's recent orders)."""

from __future__ import annotations

from django import template

from buyers.models import Order
from buyers.selectors import seller_orders
from sellers.models import Seller

register = template.Library()


@register.simple_tag
def recent_sales(seller: Seller | None, limit: int = 5) -> list[Order]:
    """The seller's latest paid (or later) orders, newest first."""
    if not isinstance(seller, Seller):
        return []
    return list(seller_orders(seller=seller).exclude(status=Order.Status.PENDING)[:limit])
