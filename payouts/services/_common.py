"""Small helpers the payouts services share: money labels and Stripe timestamps."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from marketplace.money import Money


def _money_label(amount: int, currency: str) -> str:
    return Money(amount, currency).format()


def _ts(value: Any) -> datetime | None:
    if value in (None, ""):
        return None
    return datetime.fromtimestamp(int(value), tz=UTC)
