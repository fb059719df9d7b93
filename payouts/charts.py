"""Server-rendered SVG charts: pure functions from numbers to shapes (no JavaScript).

A chart is drawn in a fixed coordinate space (``width`` by ``height``) that the page scales to
its width without distorting the text: the plot sits right of the amount axis and above the date
axis. Amounts are labelled with the project's money format, dates with its date format.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from marketplace.dates import format_date, format_day_month
from marketplace.money import Money

# Room for the labels: amounts left of the plot, dates under it (in chart units).
LEFT_GUTTER = 78.0
BOTTOM_GUTTER = 24.0
TOP_PAD = 10.0
RIGHT_PAD = 22.0


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
class Tick:
    """A labelled gridline: ``position`` is y for the amount axis, x for the date axis."""

    position: float
    label: str


@dataclass(frozen=True)
class BarChart:
    currency: str
    width: int
    height: int
    plot_left: float
    plot_right: float
    plot_top: float
    plot_bottom: float
    baseline: float
    bars: list[Bar]
    amount_ticks: list[Tick]
    date_ticks: list[Tick]
    top_label: str
    bottom_label: str
    first_day: str
    last_day: str
    total: str
    description: str

    @property
    def amount_label_x(self) -> float:
        return self.plot_left - 6

    @property
    def date_label_y(self) -> float:
        return self.height - 6

    @property
    def tick_end(self) -> float:
        return self.plot_bottom + 4


def daily_bar_chart(
    *,
    values: dict[str, int],
    currency: str,
    today: date,
    days: int = 30,
    width: int = 480,
    height: int = 180,
) -> BarChart:
    """Bars of ``values`` ({"YYYY-MM-DD": minor units}) for the ``days`` days up to ``today``,
    negatives below the zero line (refund or dispute days), with an amount axis (the highest
    day, zero and the lowest day when below zero) and a date axis (every 7th day back from
    ``today``, and ``today``)."""
    dates = [today - timedelta(days=days - 1 - i) for i in range(days)]
    amounts = [int(values.get(day.isoformat(), 0)) for day in dates]
    high, low = max([0, *amounts]), min([0, *amounts])
    span = (high - low) or 1
    plot_left, plot_right = LEFT_GUTTER, width - RIGHT_PAD
    plot_top, plot_bottom = TOP_PAD, height - BOTTOM_GUTTER
    plot = plot_bottom - plot_top
    baseline = plot_top + plot * high / span
    slot = (plot_right - plot_left) / days
    bars = []
    for i, (day, amount) in enumerate(zip(dates, amounts, strict=True)):
        bar_height = plot * abs(amount) / span
        bars.append(
            Bar(
                x=round(plot_left + i * slot + slot * 0.1, 2),
                y=round(baseline - bar_height if amount >= 0 else baseline, 2),
                width=round(slot * 0.8, 2),
                height=round(bar_height, 2),
                day=day.isoformat(),
                label=f"{format_date(day)}: {Money(amount, currency)}",
                negative=amount < 0,
            )
        )
    amount_ticks = [Tick(round(baseline, 2), str(Money(0, currency)))]
    if high > 0:
        amount_ticks.append(Tick(round(plot_top, 2), str(Money(high, currency))))
    if low < 0:
        amount_ticks.append(Tick(round(plot_bottom, 2), str(Money(low, currency))))
    date_ticks = [
        Tick(round(plot_left + (i + 0.5) * slot, 2), format_day_month(dates[i]))
        for i in range(days - 1, -1, -7)
    ][::-1]
    first, last = format_date(dates[0]), format_date(dates[-1])
    total = str(Money(sum(amounts), currency))
    return BarChart(
        currency=currency,
        width=width,
        height=height,
        plot_left=plot_left,
        plot_right=plot_right,
        plot_top=plot_top,
        plot_bottom=plot_bottom,
        baseline=round(baseline, 2),
        bars=bars,
        amount_ticks=amount_ticks,
        date_ticks=date_ticks,
        top_label=str(Money(high, currency)),
        bottom_label=str(Money(low, currency)),
        first_day=first,
        last_day=last,
        total=total,
        description=(
            f"{first} to {last}: {total} in total, highest day {Money(high, currency)}"
            + (f", lowest day {Money(low, currency)}" if low < 0 else "")
        ),
    )
