"""The money charts have axes: amounts in the money format, dates in the date format."""

from __future__ import annotations

import datetime as dt

from payouts.charts import daily_bar_chart


def test_chart_axes_label_amounts_and_dates():
    today = dt.date(2026, 11, 27)
    chart = daily_bar_chart(
        values={"2026-11-27": 10650, "2026-11-20": -400}, currency="eur", today=today
    )
    assert [t.label for t in chart.amount_ticks] == ["€0.00", "€106.50", "-€4.00"]
    labels = [t.label for t in chart.date_ticks]
    assert labels == ["30 Oct", "6 Nov", "13 Nov", "20 Nov", "27 Nov"]
    # Ticks sit under their days' bars, inside the plot, left to right.
    positions = [t.position for t in chart.date_ticks]
    assert positions == sorted(positions)
    assert chart.plot_left < positions[0] and positions[-1] < chart.plot_right
    last_bar = chart.bars[-1]
    assert last_bar.x < positions[-1] < last_bar.x + last_bar.width
    # The highest day reaches the top gridline, the lowest the bottom one; zero is the baseline.
    top, bottom = chart.amount_ticks[1].position, chart.amount_ticks[2].position
    assert last_bar.y == top and chart.baseline == chart.amount_ticks[0].position
    refund_day = next(b for b in chart.bars if b.day == "2026-11-20")
    assert refund_day.negative and round(refund_day.y + refund_day.height, 2) == bottom
    assert refund_day.label == "20 Nov 2026: -€4.00"
    assert chart.first_day == "29 Oct 2026" and chart.last_day == "27 Nov 2026"
    assert "highest day €106.50, lowest day -€4.00" in chart.description


def test_a_quiet_month_has_only_the_zero_line():
    chart = daily_bar_chart(values={}, currency="jpy", today=dt.date(2026, 3, 1))
    assert [t.label for t in chart.amount_ticks] == ["¥0"]
    assert all(bar.height == 0 for bar in chart.bars)
