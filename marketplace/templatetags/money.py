"""Template filters for money: ``{{ order.amount|money:order.currency }}`` or ``{{ m|money }}``."""

from __future__ import annotations

from django import template

from marketplace.money import Money

register = template.Library()


@register.filter(name="money")
def money_filter(value: object, currency: str | None = None) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, Money):
        return value.format()
    if currency is None:
        return str(value)
    try:
        return Money(int(value), str(currency)).format()  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return ""
