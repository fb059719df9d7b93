"""Template tags of the buyers app for other apps' pages (the seller dashboard's recent orders)."""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

from django import template
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

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


@register.simple_tag
def select_options(choices: Iterable[tuple[str, str]], selected: str) -> SafeString:
    """``<option>``s of a filter select, marking ``selected``: the same HTML as a template loop.

    The catalogue's seller and category lists are on every page and the same for everyone, so
    their HTML is built once per process and list (the lists are cached, see
    ``selectors.filter_choices``), and the selected option marked by one replacement.
    """
    html = _options_html(tuple(choices))
    if selected:
        option = f'<option value="{escape(selected)}">'
        html = html.replace(option, option[:-1] + " selected>", 1)
    return mark_safe(html)  # noqa: S308  # every value is escaped


@lru_cache(maxsize=16)
def _options_html(choices: tuple[tuple[str, str], ...]) -> str:
    return "".join(
        f'<option value="{escape(value)}">{escape(label)}</option>' for value, label in choices
    )
