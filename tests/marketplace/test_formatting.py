"""One way to write dates and money: the marketplace's filters and the sandbox's own copy agree."""

from __future__ import annotations

import datetime as dt

import pytest
from django.template import Context, Template
from django.utils import timezone

from marketplace.dates import format_date, format_datetime
from marketplace.money import Money
from sandbox import display

MOMENTS = [0, 1_700_000_000, 1_764_279_120, 1_767_225_599, 1_772_236_800]


@pytest.mark.parametrize(
    "currency", ["eur", "usd", "gbp", "jpy", "chf", "krw", "kwd", "sek", "inr"]
)
@pytest.mark.parametrize("amount", [0, 5, -5, 6873, -123456, 100_000_000])
def test_the_sandbox_writes_money_as_the_marketplace_does(currency, amount):
    assert display.money(amount, currency) == Money(amount, currency).format()


@pytest.mark.parametrize("timestamp", MOMENTS)
def test_the_sandbox_writes_unix_times_as_the_marketplace_writes_datetimes(timestamp, settings):
    settings.TIME_ZONE = "UTC"
    moment = dt.datetime.fromtimestamp(timestamp, tz=dt.UTC)
    assert display.datetime(timestamp) == format_datetime(moment)
    assert display.date(timestamp) == format_date(moment.date())


def test_dates_read_the_same_on_every_page():
    moment = dt.datetime(2026, 11, 7, 9, 5, tzinfo=dt.UTC)
    html = Template(
        "{{ when|datetime }} | {{ when|day }} | {{ day|day }} | {{ none|datetime }}"
    ).render(Context({"when": moment, "day": dt.date(2026, 1, 31), "none": None}))
    assert html == "7 Nov 2026, 09:05 UTC | 7 Nov 2026 | 31 Jan 2026 | "
    with timezone.override("Europe/Paris"):  # the site's zone, named
        assert format_datetime(moment) == "7 Nov 2026, 10:05 CET"


def test_sandbox_filters_on_its_pages():
    html = Template(
        "{% load sandbox_display %}{{ ts|stripe_date }} | {{ ts|stripe_datetime }} | "
        "{{ amount|stripe_money:'eur' }} | {{ nothing|stripe_date }}"
    ).render(Context({"ts": 1_764_279_120, "amount": 6873, "nothing": None}))
    assert html == "27 Nov 2025 | 27 Nov 2025, 21:32 UTC | €68.73 | "
