"""How a fee is computed from its terms: what the buyer pays, the platform's fee, the seller's share.

The quote of a sale is ``sellers.fees.fee_quote``: it picks the terms from the fee rules the platform
admins set (``sellers.fees.applicable_fee_rule``) and calls ``compute_fee`` here, the one place a fee
is computed, rounding half-up once. With no rule for the sale's currency, the platform default
from settings applies (``default_terms``): MARKETPLACE_DEFAULT_FEE_BPS basis points plus
MARKETPLACE_DEFAULT_FEE_FIXED minor units (the fixed part only for currencies with minor units).
The fee is never negative and never exceeds the amount. This module is pure: no database.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

from marketplace.money import Money, round_half_up

MAX_BPS = 10_000  # 100 %


@dataclass(frozen=True)
class FeeTerms:
    """How a fee is computed for one currency: bps of the amount plus a fixed part, clamped.

    ``fixed``, ``minimum`` and ``maximum`` are minor units of the sale's currency.
    ``rule_id``/``label`` say where the terms come from (shown on the simulator and stored on orders).
    """

    bps: int
    fixed: int = 0
    minimum: int | None = None
    maximum: int | None = None
    rule_id: int | None = None
    label: str = "platform default (settings)"


@dataclass(frozen=True)
class FeeQuote:
    amount: Money  # what the buyer pays
    fee: Money  # the platform's application fee
    bps: int
    fixed: int
    rule_id: int | None = None  # the fee rule applied (None: the settings default)
    rule_label: str = "platform default (settings)"

    @property
    def seller_share(self) -> Money:
        return self.amount - self.fee


def default_terms(currency: str) -> FeeTerms:
    """The platform default from settings, for ``currency``."""
    probe = Money(0, currency)
    fixed = settings.MARKETPLACE_DEFAULT_FEE_FIXED if probe.exponent > 0 else 0
    return FeeTerms(bps=settings.MARKETPLACE_DEFAULT_FEE_BPS, fixed=fixed)


def compute_fee(amount: Money, terms: FeeTerms) -> Money:
    """The fee for ``amount`` under ``terms``: the one place a fee is computed and rounded.

    amount x bps / 10,000 rounded half-up (once, in integers), plus the fixed part, then raised
    to the minimum and lowered to the maximum, and finally kept within [0, amount]: a fee never
    exceeds what the buyer pays.
    """
    if amount.amount < 0:
        raise ValueError("cannot quote a fee on a negative amount")
    fee = round_half_up(amount.amount * terms.bps, MAX_BPS) + terms.fixed
    if terms.minimum is not None:
        fee = max(fee, terms.minimum)
    if terms.maximum is not None:
        fee = min(fee, terms.maximum)
    fee = min(max(fee, 0), amount.amount)
    return Money(fee, amount.currency)
