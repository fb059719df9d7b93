"""How the sandbox's pages write money and Stripe's Unix times, in one place.

The same format as the marketplace's pages (``€1,234.50``, ``¥1,200``, ``12.500 KWD``;
``27 Nov 2026`` and ``27 Nov 2026, 21:32 UTC``), written out here because the sandbox imports
nothing of the project's: a test compares the two.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

ZERO_DECIMAL = frozenset(
    "bif clp djf gnf jpy kmf krw mga pyg rwf ugx vnd vuv xaf xof xpf".split()  # noqa: SIM905
)
THREE_DECIMAL = frozenset("bhd jod kwd omr tnd".split())  # noqa: SIM905
SYMBOLS = {"eur": "€", "usd": "$", "gbp": "£", "jpy": "¥", "chf": "CHF ", "inr": "₹", "krw": "₩"}
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def money(amount: int, currency: str) -> str:
    """An amount in minor units, as people read it: ``€68.73``, ``-£5.00``, ``¥1,200``."""
    code = currency.lower()
    digits = 0 if code in ZERO_DECIMAL else 3 if code in THREE_DECIMAL else 2
    number = f"{abs(Decimal(int(amount)).scaleb(-digits)):,.{digits}f}"
    sign = "-" if amount < 0 else ""
    symbol = SYMBOLS.get(code)
    return f"{sign}{symbol}{number}" if symbol else f"{sign}{number} {code.upper()}"


def _utc(timestamp: int | float) -> dt.datetime:
    return dt.datetime.fromtimestamp(int(timestamp), tz=dt.UTC)


def date(timestamp: int | float) -> str:
    """A Unix time's day in UTC: ``27 Nov 2026`` (payout arrival dates are days)."""
    moment = _utc(timestamp)
    return f"{moment.day} {MONTHS[moment.month - 1]} {moment.year}"


def datetime(timestamp: int | float) -> str:
    """A Unix time in UTC: ``27 Nov 2026, 21:32 UTC``."""
    moment = _utc(timestamp)
    return f"{date(timestamp)}, {moment:%H:%M} UTC"
