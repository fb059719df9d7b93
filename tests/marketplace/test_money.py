from __future__ import annotations

from decimal import Decimal

import pytest
from django.template import Context, Template
from hypothesis import given
from hypothesis import strategies as st

from marketplace.money import CurrencyMismatch, Money, exponent, round_half_up

currencies = st.sampled_from(["eur", "usd", "jpy", "krw", "kwd", "gbp"])
amounts = st.integers(min_value=-(10**15), max_value=10**15)


@given(amounts, amounts, currencies)
def test_addition_is_exact_and_commutative(a, b, cur):
    assert Money(a, cur) + Money(b, cur) == Money(b, cur) + Money(a, cur) == Money(a + b, cur)


@given(amounts, currencies)
def test_major_units_round_trip(a, cur):
    m = Money(a, cur)
    assert Money.from_major(m.major_str(), cur) == m


@given(st.integers(min_value=0, max_value=10**12), st.integers(min_value=0, max_value=10_000))
def test_basis_points_fee_never_exceeds_amount_and_rounds_half_up(amount, bps):
    fee = Money(amount, "eur").basis_points(bps)
    assert 0 <= fee.amount <= amount
    exact = Decimal(amount) * bps / 10_000
    assert abs(Decimal(fee.amount) - exact) <= Decimal("0.5")


@given(st.integers(min_value=1, max_value=10**9), st.data())
def test_pro_rata_parts_sum_close_to_whole(whole, data):
    part = data.draw(st.integers(min_value=0, max_value=whole))
    total = Money(whole, "usd")
    share = total.pro_rata(part, whole)
    rest = total.pro_rata(whole - part, whole)
    assert abs(share.amount + rest.amount - whole) <= 1


def test_refuses_mixed_currencies():
    with pytest.raises(CurrencyMismatch, match="EUR with USD"):
        Money(100, "eur") + Money(100, "usd")
    with pytest.raises(CurrencyMismatch):
        Money(100, "eur") < Money(100, "usd")  # noqa: B015


def test_refuses_floats_and_bools():
    with pytest.raises(TypeError):
        Money(1.5, "eur")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Money(True, "eur")  # type: ignore[arg-type]


def test_zero_decimal_and_three_decimal_currencies():
    assert exponent("JPY") == 0 and exponent("krw") == 0 and exponent("kwd") == 3
    assert Money.from_major("1200", "jpy").amount == 1200
    assert Money.from_major("12.5", "kwd").amount == 12500
    with pytest.raises(ValueError, match="more decimals than JPY"):
        Money.from_major("12.5", "jpy")
    with pytest.raises(ValueError, match="more decimals than EUR"):
        Money.from_major("1.005", "eur")


def test_formats_for_display():
    assert Money(123450, "eur").format() == "€1,234.50"
    assert Money(1200, "jpy").format() == "¥1,200"
    assert Money(12500, "kwd").format() == "12.500 KWD"
    assert Money(-250, "usd").format() == "-$2.50"


def test_round_half_up_is_half_away_from_zero():
    assert round_half_up(5, 10) == 1
    assert round_half_up(4, 10) == 0
    assert round_half_up(-5, 10) == -1
    assert round_half_up(15, 10) == 2


def test_template_filter():
    out = Template("{{ a|money:'eur' }} {{ m|money }}").render(
        Context({"a": 2500, "m": Money(300, "jpy")})
    )
    assert out == "€25.00 ¥300"
