"""The sandbox pages' filters: ``{{ amount|stripe_money:currency }}``, ``{{ ts|stripe_date }}``,
``{{ ts|stripe_datetime }}`` (Stripe's Unix times), all from ``sandbox/display.py``."""

from __future__ import annotations

from django import template

from sandbox import display

register = template.Library()


@register.filter
def stripe_money(amount: object, currency: str) -> str:
    if amount is None or amount == "" or not currency:
        return ""
    try:
        return display.money(int(amount), str(currency))  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return ""


@register.filter
def stripe_date(timestamp: object) -> str:
    if isinstance(timestamp, bool) or not isinstance(timestamp, int | float):
        return ""
    return display.date(timestamp)


@register.filter
def stripe_datetime(timestamp: object) -> str:
    if isinstance(timestamp, bool) or not isinstance(timestamp, int | float):
        return ""
    return display.datetime(timestamp)
