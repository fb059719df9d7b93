"""Reads of the payouts app: QuerySets and values scoped to the person asking."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db.models import QuerySet
from django.http import Http404

from payouts.models import FeeRule, LedgerEntry, Payout, SellerBalance
from sellers.models import Seller


def staff_only(user: Any) -> None:
    """Raise Http404 unless ``user`` is platform staff (fees, simulator, transfer review)."""
    if not (user.is_authenticated and user.is_staff):
        raise Http404("No such page")


def seller_of(user: Any) -> Seller:
    """The seller profile of ``user``; Http404 for anyone who is not a seller."""
    if not user.is_authenticated:
        raise Http404("No such page")
    seller = Seller.objects.filter(user=user).select_related("money").first()
    if seller is None:
        raise Http404("No such page")
    return seller


@dataclass
class FeeRuleLineage:
    """One fee rule: its current version and the versions before it, newest first."""

    current: FeeRule
    history: list[FeeRule] = field(default_factory=list)


def fee_rule_lineages(*, user: Any) -> list[FeeRuleLineage]:
    """Every fee rule with its version history, most specific scope first (staff only)."""
    staff_only(user)
    rules = list(FeeRule.objects.select_related("seller", "category", "created_by", "supersedes"))
    by_id = {rule.pk: rule for rule in rules}
    superseded = {rule.supersedes_id for rule in rules if rule.supersedes_id}
    lineages = []
    for rule in rules:
        if rule.pk in superseded:
            continue
        lineage = FeeRuleLineage(current=rule)
        previous = rule.supersedes_id
        while previous is not None and previous in by_id:
            lineage.history.append(by_id[previous])
            previous = by_id[previous].supersedes_id
        lineages.append(lineage)
    lineages.sort(
        key=lambda lin: (
            not lin.current.is_active,
            -FeeRule.SPECIFICITY[lin.current.scope],
            lin.current.target_label,
            lin.current.starts_on,
        )
    )
    return lineages


def seller_ledger_entries(*, seller: Seller) -> QuerySet[LedgerEntry]:
    """The seller's own ledger entries (balance and payouts accounts), oldest first."""
    return LedgerEntry.objects.filter(seller=seller).select_related("transaction").order_by("id")


def seller_payouts(*, seller: Seller) -> QuerySet[Payout]:
    return Payout.objects.filter(seller=seller)


def seller_balance_row(*, seller: Seller) -> SellerBalance | None:
    try:
        return seller.money
    except SellerBalance.DoesNotExist:
        return None
