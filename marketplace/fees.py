"""The fee quote for a sale: what the buyer pays, the platform's application fee, the seller's share.

One function, ``compute_fee``, computes a fee from its terms, rounding half-up once. The terms come
from the fee rules the platform admins set (the payouts app registers a *rule provider* at start-up
with ``set_rule_provider``; the core never imports an app). When no provider is registered, or the
provider has no rule for the sale's currency, the platform default from settings applies:
MARKETPLACE_DEFAULT_FEE_BPS basis points plus MARKETPLACE_DEFAULT_FEE_FIXED minor units (the fixed
part only for currencies with minor units). The fee is never negative and never exceeds the amount.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

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


# A provider gets (amount, seller, category) and returns the terms of the most specific active
# rule covering amount.currency, or None to fall back to the settings default.
RuleProvider = Callable[[Money, Any, Any], FeeTerms | None]

_rule_provider: RuleProvider | None = None


def set_rule_provider(provider: RuleProvider | None) -> None:
    """Register (or with None, remove) the fee-rule provider. Called by the payouts app at start-up."""
    global _rule_provider
    _rule_provider = provider


def get_rule_provider() -> RuleProvider | None:
    return _rule_provider


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


def fee_quote(*, amount: Money, seller: Any = None, category: Any = None) -> FeeQuote:
    """Quote the application fee for a sale of ``amount`` by ``seller`` in ``category``.

    The most specific active fee rule covering the currency applies (seller over category over
    platform; see payouts), else the settings default. The fee is capped at the amount and never
    negative.
    """
    terms: FeeTerms | None = None
    if _rule_provider is not None:
        terms = _rule_provider(amount, seller, category)
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
