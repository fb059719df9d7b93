"""Server-rendered SVG charts: pure functions from numbers to shapes (no JavaScript)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from marketplace.money import Money


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    day: str
    label: str
    negative: bool


@dataclass(frozen=True)
class BarChart:
    currency: str
    width: int
    height: int
    baseline: float
    bars: list[Bar]
    top_label: str
    bottom_label: str
    first_day: str
    last_day: str
    total: str


def daily_bar_chart(
    *,
    values: dict[str, int],
    currency: str,
    today: date,
    days: int = 30,
    width: int = 600,
    height: int = 160,
) -> BarChart:
    """Bars of ``values`` ({"YYYY-MM-DD": minor units}) for the ``days`` days up to ``today``,
    negatives below the baseline (refund or dispute days)."""
    series = [(today - timedelta(days=days - 1 - i)).isoformat() for i in range(days)]
    amounts = [int(values.get(day, 0)) for day in series]
    high, low = max([0, *amounts]), min([0, *amounts])
    span = (high - low) or 1
    pad = 4.0
    plot = height - 2 * pad
    baseline = pad + plot * high / span
    slot = width / days
    bars = []
    for i, (day, amount) in enumerate(zip(series, amounts, strict=True)):
        bar_height = plot * abs(amount) / span
        bars.append(
            Bar(
                x=round(i * slot + slot * 0.1, 2),
                y=round(baseline - bar_height if amount >= 0 else baseline, 2),
                width=round(slot * 0.8, 2),
                height=round(bar_height, 2),
                day=day,
                label=f"{day}: {Money(amount, currency)}",
                negative=amount < 0,
            )
        )
    return BarChart(
        currency=currency,
        width=width,
        height=height,
        baseline=round(baseline, 2),
        bars=bars,
        top_label=str(Money(high, currency)),
        bottom_label=str(Money(low, currency)),
        first_day=series[0],
        last_day=series[-1],
        total=str(Money(sum(amounts), currency)),
    )
