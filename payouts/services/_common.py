"""Small helpers the payouts services share: money labels and Stripe payload fields."""

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


def _plain(obj: Any) -> dict[str, Any]:
    """A Stripe object (or a payload dict) as a plain dict."""
    if obj is None:
        return {}
    if isinstance(obj, dict):
        return obj
    to_dict = getattr(obj, "to_dict", None)
    return dict(to_dict()) if to_dict else dict(obj)


def _id(value: Any) -> str:
    if not value:
        return ""
    if isinstance(value, str):
        return value
    return str(_plain(value).get("id") or "")
