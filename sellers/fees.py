"""Fees the platform charges on sellers' sales: the versioned fee rules and the fee quote.

``fee_quote`` is what checkout, the new-listing preview and the staff simulator call: it finds the
most specific rule with ``applicable_fee_rule`` (seller > category > platform, covering the sale's
currency) and computes the fee with ``marketplace.fees.compute_fee``; with no rule, the settings
default (``marketplace.fees.default_terms``) applies.

Rules are never edited or deleted: a change is a new version (``supersedes``), a retirement a
new inactive version. Only staff write them (``fee_rule_create``, ``fee_rule_retire``; the staff
pages are in payouts). The rules live here, in sellers, because they price sellers' and
categories' sales and buyers' checkout must reach them (layers: marketplace <- sellers <- buyers).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from marketplace.audit.services import Action, audit_record, snapshot
from marketplace.errors import UserFacingError
from marketplace.fees import MAX_BPS, FeeQuote, FeeTerms, compute_fee, default_terms
from marketplace.money import Money, normalize_currency
from sellers.models import Category, FeeRule, Seller


def _money_label(amount: int, currency: str) -> str:
    return Money(amount, currency).format()


class FeeRuleError(UserFacingError):
    """A fee rule was refused; ``message`` says why, ``field`` which input."""


def _lock_scope(key: str) -> None:
    """Serialize writers of one fee-rule scope (PostgreSQL advisory lock; SQLite writes are
    serialized by its IMMEDIATE transactions already)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [zlib.crc32(key.encode())])


def current_fee_rules() -> QuerySet[FeeRule]:
    """Current versions of all fee rules (those no newer version supersedes), retired included."""
    return FeeRule.objects.filter(superseded_by__isnull=True)


def _clean_amounts(
    values: Mapping[str, int | None], *, covered: set[str], label: str, field: str
) -> dict[str, int]:
    cleaned: dict[str, int] = {}
    for raw_currency, value in values.items():
        if value is None:
            continue
        try:
            currency = normalize_currency(raw_currency)
        except ValueError as exc:
            raise FeeRuleError(str(exc), field=field) from None
        if currency not in covered:
            raise FeeRuleError(
                f"The rule has a {label} in {currency.upper()} but does not cover "
                f"{currency.upper()}: add the currency or remove the {label}.",
                field=field,
            )
        if isinstance(value, bool) or not isinstance(value, int):
            raise FeeRuleError(f"The {label} must be a whole number of minor units.", field=field)
        if value < 0:
            raise FeeRuleError(
                f"The {label} in {currency.upper()} cannot be negative.", field=field
            )
        cleaned[currency] = value
    return cleaned


# What the audit log keeps of a fee rule version (before: the version it supersedes).
AUDITED_TERMS = [
    "scope",
    "seller",
    "category",
    "starts_on",
    "bps",
    "currencies",
    "fixed_fees",
    "minimums",
    "maximums",
    "is_active",
    "note",
]


def fee_rule_create(
    *,
    actor: Any,
    scope: str,
    starts_on: date,
    bps: int,
    currencies: Iterable[str],
    fixed_fees: Mapping[str, int | None] | None = None,
    minimums: Mapping[str, int | None] | None = None,
    maximums: Mapping[str, int | None] | None = None,
    seller: Seller | None = None,
    category: Category | None = None,
    supersedes: FeeRule | None = None,
    is_active: bool = True,
    note: str = "",
) -> FeeRule:
    """Create a fee rule, or with ``supersedes`` a new version of an existing rule.

    Refuses (``FeeRuleError`` with a message naming the field): negative basis points, more than
    10,000 (100 %), no currency covered, a fixed fee / minimum / maximum in a currency the rule
    does not cover or below zero, a minimum above the maximum, a target that does not match the
    scope, a second current rule with the same scope, target and start date, and a version of a
    rule that has already been superseded (someone changed it meanwhile).
    Side effects: one new FeeRule row, recording ``actor`` and the time; nothing is edited; an
    audit entry (the terms before, from the superseded version, and after) in the same transaction.
    """
    if not getattr(actor, "is_staff", False):
        raise FeeRuleError("Only platform staff can change fee rules.")
    if scope not in FeeRule.Scope.values:
        raise FeeRuleError(f"Unknown scope {scope!r}.", field="scope")
    if isinstance(bps, bool) or not isinstance(bps, int):
        raise FeeRuleError("Basis points must be a whole number.", field="bps")
    if bps < 0:
        raise FeeRuleError("Basis points cannot be negative.", field="bps")
    if bps > MAX_BPS:
        raise FeeRuleError("A fee above 100 % (10,000 basis points) is not allowed.", field="bps")
    try:
        covered = sorted({normalize_currency(c) for c in currencies})
    except ValueError as exc:
        raise FeeRuleError(str(exc), field="currencies") from None
    if not covered:
        raise FeeRuleError("Choose at least one currency the rule covers.", field="currencies")
    covered_set = set(covered)
    fixed = _clean_amounts(fixed_fees or {}, covered=covered_set, label="fixed fee", field="fixed")
    mins = _clean_amounts(minimums or {}, covered=covered_set, label="minimum", field="minimum")
    maxs = _clean_amounts(maximums or {}, covered=covered_set, label="maximum", field="maximum")
    for currency in covered:
        if currency in mins and currency in maxs and mins[currency] > maxs[currency]:
            raise FeeRuleError(
                f"The minimum ({_money_label(mins[currency], currency)}) is above the maximum "
                f"({_money_label(maxs[currency], currency)}).",
                field="minimum",
            )
    if scope == FeeRule.Scope.PLATFORM and (seller or category):
        raise FeeRuleError("A platform rule applies to everyone: no seller or category.")
    if scope == FeeRule.Scope.CATEGORY and (category is None or seller is not None):
        raise FeeRuleError("Choose the category this rule applies to.", field="category")
    if scope == FeeRule.Scope.SELLER and (seller is None or category is not None):
        raise FeeRuleError("Choose the seller this rule applies to.", field="seller")

    target_key = f"feerule:{scope}:{seller.pk if seller else ''}:{category.pk if category else ''}"
    with transaction.atomic():
        _lock_scope(target_key)
        if supersedes is not None:
            previous = FeeRule.objects.select_for_update().get(pk=supersedes.pk)
            if FeeRule.objects.filter(supersedes=previous).exists():
                raise FeeRuleError(
                    "This rule was changed by someone else meanwhile; reload and try again."
                )
            if (previous.scope, previous.seller_id, previous.category_id) != (
                scope,
                seller.pk if seller else None,
                category.pk if category else None,
            ):
                raise FeeRuleError(
                    "A new version keeps the rule's scope; create a separate rule instead."
                )
        clash = current_fee_rules().filter(
            scope=scope,
            seller=seller,
            category=category,
            starts_on=starts_on,
            is_active=True,
        )
        if supersedes is not None:
            clash = clash.exclude(pk=supersedes.pk)
        if is_active and clash.exists():
            target = (
                f"seller {seller.display_name}"
                if seller
                else f"category {category.name}"
                if category
                else "the platform"
            )
            raise FeeRuleError(
                f"A rule for {target} starting on {starts_on:%Y-%m-%d} already exists; "
                "change that rule (a new version) or pick another start date.",
                field="starts_on",
            )
        try:
            with transaction.atomic():
                rule = FeeRule.objects.create(
                    scope=scope,
                    seller=seller,
                    category=category,
                    starts_on=starts_on,
                    bps=bps,
                    currencies=covered,
                    fixed_fees=fixed,
                    minimums=mins,
                    maximums=maxs,
                    is_active=is_active,
                    supersedes=supersedes,
                    note=note[:200],
                    created_by=actor,
                )
        except IntegrityError:
            raise FeeRuleError(
                "This rule was changed by someone else meanwhile; reload and try again."
            ) from None
        audit_record(
            action=Action.FEE_RULE_RETIRE
            if supersedes is not None and not is_active
            else Action.FEE_RULE_CREATE,
            target=rule,
            actor=actor,
            summary=rule.note,
            before=snapshot(supersedes, AUDITED_TERMS) if supersedes is not None else None,
            after=snapshot(rule, AUDITED_TERMS),
        )
        return rule


def fee_rule_retire(*, actor: Any, rule: FeeRule, note: str = "") -> FeeRule:
    """Retire ``rule``: a new version with the same terms and ``is_active`` False.

    Side effects: one new FeeRule row; quotes fall back to the next most specific rule.
    """
    return fee_rule_create(
        actor=actor,
        scope=rule.scope,
        seller=rule.seller,
        category=rule.category,
        starts_on=rule.starts_on,
        bps=rule.bps,
        currencies=rule.currencies,
        fixed_fees=rule.fixed_fees,
        minimums=rule.minimums,
        maximums=rule.maximums,
        supersedes=rule,
        is_active=False,
        note=note or "retired",
    )


def _pk(value: Any) -> int | None:
    if value is None:
        return None
    pk = getattr(value, "pk", value)
    return int(pk) if pk is not None else None


def applicable_fee_rule(
    *, currency: str, seller: Any = None, category: Any = None, on: date | None = None
) -> FeeRule | None:
    """The rule that prices a sale in ``currency`` by ``seller`` in ``category`` on day ``on``.

    The most specific (seller > category > platform) current, active rule covering the currency
    whose start is not after ``on`` (today, UTC, by default); among equals, the newest start.
    One query.
    """
    on = on or timezone.now().date()
    seller_id, category_id = _pk(seller), _pk(category)
    scopes = Q(scope=FeeRule.Scope.PLATFORM)
    if category_id is not None:
        scopes |= Q(scope=FeeRule.Scope.CATEGORY, category_id=category_id)
    if seller_id is not None:
        scopes |= Q(scope=FeeRule.Scope.SELLER, seller_id=seller_id)
    candidates: list[FeeRule] = [
        rule
        for rule in current_fee_rules()
        .filter(scopes, is_active=True, starts_on__lte=on)
        .select_related("seller", "category")
        if currency in rule.currencies
    ]
    if not candidates:
        return None
    return max(candidates, key=lambda r: (FeeRule.SPECIFICITY[r.scope], r.starts_on, r.pk))


def fee_terms_of(rule: FeeRule, currency: str) -> FeeTerms:
    return FeeTerms(
        bps=rule.bps,
        fixed=int(rule.fixed_fees.get(currency, 0)),
        minimum=rule.minimums.get(currency),
        maximum=rule.maximums.get(currency),
        rule_id=rule.pk,
        label=f"{rule.target_label} rule #{rule.pk} (from {rule.starts_on:%Y-%m-%d})",
    )


def fee_quote(*, amount: Money, seller: Any = None, category: Any = None) -> FeeQuote:
    """Quote the application fee for a sale of ``amount`` by ``seller`` in ``category``.

    The most specific active fee rule covering the currency applies (``applicable_fee_rule``:
    seller over category over platform), else the settings default. The fee is capped at the
    amount and never negative (``compute_fee``). One query.
    """
    rule = applicable_fee_rule(currency=amount.currency, seller=seller, category=category)
    terms = fee_terms_of(rule, amount.currency) if rule is not None else None
    if terms is None:
        terms = default_terms(amount.currency)
    fee = compute_fee(amount, terms)
    return FeeQuote(
        amount=amount,
        fee=fee,
        bps=terms.bps,
        fixed=terms.fixed,
        rule_id=terms.rule_id,
        rule_label=terms.label,
    )
