"""How the project writes dates and times, in one place: pages, emails and exports for people.

A date reads ``27 Nov 2026``; a moment reads ``27 Nov 2026, 21:32 UTC`` (in the site's time zone,
``TIME_ZONE``, with its abbreviation). Machine formats (CSV exports, ``<time datetime>``) stay ISO 8601.
The sandbox writes Stripe's Unix times the same way with its own copy (``sandbox/display.py``),
since it imports nothing of ours.
"""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

# English month abbreviations, spelled here so the C library's locale can't change them.
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def format_date(value: dt.date | dt.datetime) -> str:
    """``27 Nov 2026``; a datetime is first moved to the site's time zone."""
    if isinstance(value, dt.datetime):
        value = timezone.localtime(value) if timezone.is_aware(value) else value
    return f"{value.day} {MONTHS[value.month - 1]} {value.year}"


def format_day_month(value: dt.date) -> str:
    """``27 Nov``: a date axis's tick, where the year is written once elsewhere."""
    return f"{value.day} {MONTHS[value.month - 1]}"


def format_datetime(value: dt.datetime) -> str:
    """``27 Nov 2026, 21:32 UTC``: the site's time zone, named, so nobody guesses."""
    if timezone.is_aware(value):
        value = timezone.localtime(value)
        zone = value.tzname() or ""
    else:
        zone = ""
    text = f"{format_date(value)}, {value:%H:%M}"
    return f"{text} {zone}" if zone else text
