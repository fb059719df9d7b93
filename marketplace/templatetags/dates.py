"""Template filters for dates: ``{{ order.paid_at|datetime }}`` and ``{{ rule.starts_on|day }}``.

Both write the project's one format (``marketplace/dates.py``); a missing value renders as "".
"""

from __future__ import annotations

import datetime as dt

from django import template

from marketplace.dates import format_date, format_datetime

register = template.Library()


@register.filter(name="datetime")
def datetime_filter(value: object) -> str:
    if isinstance(value, dt.datetime):
        return format_datetime(value)
    if isinstance(value, dt.date):
        return format_date(value)
    return ""


@register.filter(name="day")
def day_filter(value: object) -> str:
    if isinstance(value, dt.date):  # a datetime is a date too
        return format_date(value)
    return ""
