"""Template tags of the payouts app for other apps' pages (the seller dashboard's money card)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django import template

from payouts import selectors
from payouts.models import Payout
from sellers.models import Seller

register = template.Library()


@dataclass
class MoneySummary:
    """Per currency: Stripe's available and pending balance (None before the first read) and the
    ledger's; the latest payout."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    last_payout: Payout | None = None
    refreshed_at: Any = None


@register.simple_tag
def seller_money_summary(seller: Seller | None) -> MoneySummary:
    """The seller's balance per currency and latest payout, for the dashboard card."""
    if not isinstance(seller, Seller):
        return MoneySummary()
    balance = selectors.seller_balance_row(seller=seller)
    summary = MoneySummary(
        last_payout=selectors.seller_payouts(seller=seller).order_by("-stripe_created").first()
    )
    if balance is not None:
        summary.refreshed_at = balance.stripe_refreshed_at
        summary.rows = [
            {
                "currency": currency,
                "available": balance.stripe_available.get(currency),
                "pending": balance.stripe_pending.get(currency),
                "ledger": balance.ledger_total(currency),
            }
            for currency in balance.currencies()
        ]
    return summary
