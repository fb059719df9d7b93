"""The fee quote for a sale: what the buyer pays, the platform's application fee, the seller's share.

One function computes it, rounding half-up once. Until admins set fee rules (payouts issue), the
platform default from settings applies: MARKETPLACE_DEFAULT_FEE_BPS basis points plus
MARKETPLACE_DEFAULT_FEE_FIXED minor units. The fee never exceeds the amount.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings

from marketplace.money import Money


@dataclass(frozen=True)
class FeeQuote:
    amount: Money  # what the buyer pays
    fee: Money  # the platform's application fee
    bps: int
    fixed: int

    @property
    def seller_share(self) -> Money:
        return self.amount - self.fee


def fee_quote(*, amount: Money, seller: Any = None, category: Any = None) -> FeeQuote:
    """Quote the application fee for a sale of ``amount`` by ``seller`` in ``category``.

    ``seller`` and ``category`` select fee-rule overrides once fee rules exist; the platform
    default applies otherwise. The fee is capped at the amount and never negative.
    """
    bps = settings.MARKETPLACE_DEFAULT_FEE_BPS
    fixed = settings.MARKETPLACE_DEFAULT_FEE_FIXED if amount.exponent > 0 else 0
    fee = amount.basis_points(bps) + Money(fixed, amount.currency)
    fee = min(max(fee, Money.zero(amount.currency)), amount)
    return FeeQuote(amount=amount, fee=fee, bps=bps, fixed=fixed)
