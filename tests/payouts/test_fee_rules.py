from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from marketplace.fees import FeeTerms, compute_fee
from marketplace.money import Money
from payouts.models import FeeRule, ImmutableRowError
from sellers.fees import (
    FeeRuleError,
    applicable_fee_rule,
    fee_quote,
    fee_rule_create,
    fee_rule_retire,
)
from tests.payouts.factories import CategoryFactory, SellerFactory, UserFactory

pytestmark = pytest.mark.django_db

TODAY = timezone.now().date()


def rule(actor, **kwargs):
    defaults = dict(scope="platform", starts_on=TODAY, bps=500, currencies=["eur"])
    defaults.update(kwargs)
    return fee_rule_create(actor=actor, **defaults)


def test_settings_default_applies_without_rules(settings):
    settings.MARKETPLACE_DEFAULT_FEE_BPS = 1000
    settings.MARKETPLACE_DEFAULT_FEE_FIXED = 30
    quote = fee_quote(amount=Money(2500, "eur"))
    assert quote.fee == Money(280, "eur")
    assert quote.seller_share == Money(2220, "eur")
    assert quote.rule_id is None


def test_the_most_specific_active_rule_wins(staff):
    category, seller = CategoryFactory(), SellerFactory()
    platform = rule(staff, bps=500, fixed_fees={"eur": 10})
    by_category = rule(staff, scope="category", category=category, bps=700)
    by_seller = rule(staff, scope="seller", seller=seller, bps=300)
    amount = Money(10_000, "eur")
    assert fee_quote(amount=amount).fee == Money(510, "eur")
    assert fee_quote(amount=amount, category=category).rule_id == by_category.pk
    assert fee_quote(amount=amount, category=category).fee == Money(700, "eur")
    assert fee_quote(amount=amount, seller=seller, category=category).rule_id == by_seller.pk
    assert fee_quote(amount=amount, seller=SellerFactory()).rule_id == platform.pk


def test_newest_start_not_in_future_wins(staff):
    old = rule(staff, starts_on=TODAY - timedelta(days=10), bps=100)
    rule(staff, starts_on=TODAY + timedelta(days=1), bps=900)
    assert fee_quote(amount=Money(10_000, "eur")).rule_id == old.pk
    newer = rule(staff, starts_on=TODAY, bps=200)
    assert fee_quote(amount=Money(10_000, "eur")).fee == Money(200, "eur")
    assert applicable_fee_rule(currency="eur", on=TODAY + timedelta(days=2)).bps == 900
    assert applicable_fee_rule(currency="eur").pk == newer.pk


def test_rule_not_covering_currency_falls_back(staff, settings):
    settings.MARKETPLACE_DEFAULT_FEE_BPS = 1000
    settings.MARKETPLACE_DEFAULT_FEE_FIXED = 0
    seller = SellerFactory()
    rule(staff, scope="seller", seller=seller, bps=100, currencies=["usd"])
    assert fee_quote(amount=Money(1000, "eur"), seller=seller).fee == Money(100, "eur")
    assert fee_quote(amount=Money(1000, "usd"), seller=seller).fee == Money(10, "usd")


def test_minimum_and_maximum_per_currency(staff):
    rule(
        staff,
        bps=1000,
        currencies=["eur", "usd"],
        minimums={"eur": 50},
        maximums={"eur": 2000, "usd": 100},
    )
    assert fee_quote(amount=Money(100, "eur")).fee == Money(50, "eur")
    assert fee_quote(amount=Money(1_000_000, "eur")).fee == Money(2000, "eur")
    assert fee_quote(amount=Money(1_000_000, "usd")).fee == Money(100, "usd")
    # The minimum never makes the fee exceed the amount.
    assert fee_quote(amount=Money(20, "eur")).fee == Money(20, "eur")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"bps": -1}, "cannot be negative"),
        ({"bps": 10_001}, "above 100 %"),
        ({"fixed_fees": {"usd": 30}}, "does not cover USD"),
        ({"minimums": {"gbp": 30}}, "does not cover GBP"),
        ({"fixed_fees": {"eur": -5}}, "cannot be negative"),
        ({"minimums": {"eur": 500}, "maximums": {"eur": 100}}, "is above the maximum"),
        ({"currencies": []}, "at least one currency"),
        ({"scope": "seller"}, "Choose the seller"),
        ({"scope": "category"}, "Choose the category"),
    ],
)
def test_bad_rules_are_refused_with_a_message(staff, kwargs, message):
    with pytest.raises(FeeRuleError, match=message):
        rule(staff, **kwargs)
    assert not FeeRule.objects.exists()


def test_exactly_100_percent_is_allowed(staff):
    rule(staff, bps=10_000, fixed_fees={"eur": 100})
    assert fee_quote(amount=Money(500, "eur")).fee == Money(500, "eur")


def test_overlapping_rule_with_same_scope_and_start_is_refused(staff):
    seller = SellerFactory()
    rule(staff, scope="seller", seller=seller)
    with pytest.raises(FeeRuleError, match="already exists"):
        rule(staff, scope="seller", seller=seller, bps=100)
    # Another seller, or another start date, is fine.
    rule(staff, scope="seller", seller=SellerFactory())
    rule(staff, scope="seller", seller=seller, starts_on=TODAY + timedelta(days=3))


def test_a_change_is_a_new_version_with_who_and_when(staff):
    first = rule(staff, bps=500)
    other_admin = UserFactory(is_staff=True)
    second = rule(other_admin, bps=600, supersedes=first)
    assert FeeRule.objects.count() == 2
    first.refresh_from_db()
    assert first.bps == 500 and first.created_by == staff
    assert second.supersedes == first and second.created_by == other_admin
    assert fee_quote(amount=Money(10_000, "eur")).fee == Money(600, "eur")
    # The old version cannot be changed again: someone already did.
    with pytest.raises(FeeRuleError, match="changed by someone else"):
        rule(staff, bps=700, supersedes=first)


def test_retiring_falls_back_to_less_specific_rule(staff):
    seller = SellerFactory()
    rule(staff, bps=500)
    specific = rule(staff, scope="seller", seller=seller, bps=100)
    fee_rule_retire(actor=staff, rule=specific)
    assert fee_quote(amount=Money(10_000, "eur"), seller=seller).fee == Money(500, "eur")
    # A retired rule no longer blocks a new rule with the same start.
    rule(staff, scope="seller", seller=seller, bps=200)


def test_rule_versions_are_immutable(staff):
    first = rule(staff)
    first.bps = 1
    with pytest.raises(ImmutableRowError):
        first.save()
    with pytest.raises(ImmutableRowError):
        first.delete()
    with pytest.raises(ImmutableRowError):
        FeeRule.objects.update(bps=2)


def test_only_staff_change_rules(db):
    with pytest.raises(FeeRuleError, match="Only platform staff"):
        rule(UserFactory())


def test_no_rule_falls_back_to_settings(staff, settings):
    settings.MARKETPLACE_DEFAULT_FEE_BPS = 1000
    settings.MARKETPLACE_DEFAULT_FEE_FIXED = 0
    assert fee_quote(amount=Money(1000, "eur")).fee == Money(100, "eur")
    assert fee_quote(amount=Money(1000, "eur")).rule_id is None
    rule(staff, bps=100)
    assert fee_quote(amount=Money(1000, "eur")).fee == Money(10, "eur")


def test_zero_decimal_currency_quote(settings):
    settings.MARKETPLACE_DEFAULT_FEE_FIXED = 30
    settings.MARKETPLACE_DEFAULT_FEE_BPS = 1000
    # No fixed part in JPY by default (30 yen is not 30 cents).
    assert fee_quote(amount=Money(1000, "jpy")).fee == Money(100, "jpy")


@pytest.mark.parametrize(
    ("amount", "bps", "fee"),
    [(5, 1000, 1), (4, 1250, 1), (3, 1666, 0), (15, 1000, 2), (25, 1000, 3), (1, 5000, 1)],
)
def test_rounding_half_up_once(amount, bps, fee):
    assert compute_fee(Money(amount, "eur"), FeeTerms(bps=bps)).amount == fee


terms_strategy = st.builds(
    FeeTerms,
    bps=st.integers(0, 10_000),
    fixed=st.integers(0, 10_000),
    minimum=st.none() | st.integers(0, 10_000),
    maximum=st.none() | st.integers(0, 100_000),
)


@hsettings(max_examples=300, deadline=None)
@given(amount=st.integers(0, 10**12), terms=terms_strategy)
def test_fee_is_capped_at_the_amount_and_never_negative(amount, terms):
    fee = compute_fee(Money(amount, "eur"), terms)
    assert 0 <= fee.amount <= amount
    if terms.maximum is not None:
        assert fee.amount <= terms.maximum
    if terms.minimum is not None and (terms.maximum is None or terms.minimum <= terms.maximum):
        assert fee.amount >= min(terms.minimum, amount)


@hsettings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(amount=st.integers(1, 10**9), bps=st.integers(0, 10_000), fixed=st.integers(0, 10**6))
def test_quote_through_rules_is_capped(staff, amount, bps, fixed):
    seller = SellerFactory()  # a fresh seller per example, so each example has its own rule
    rule(staff, scope="seller", seller=seller, bps=bps, fixed_fees={"eur": fixed})
    quote = fee_quote(amount=Money(amount, "eur"), seller=seller)
    assert quote.rule_id is not None
    assert 0 <= quote.fee.amount <= amount
    assert quote.fee + quote.seller_share == quote.amount


def test_dates_are_days(staff):
    r = rule(staff, starts_on=date(2020, 1, 1))
    assert str(r.starts_on) == "2020-01-01"


def test_demo_seed_makes_fee_rules_once():
    import io

    from payouts.seed import seed_fee_rules

    CategoryFactory(name="Ceramics")
    seed_fee_rules(io.StringIO())
    seed_fee_rules(io.StringIO())
    assert FeeRule.objects.count() == 2
    ceramics = fee_quote(
        amount=Money(10_000, "eur"), category=FeeRule.objects.get(scope="category").category
    )
    assert ceramics.fee == Money(800, "eur")
