"""The double-entry ledger: accounts, postings, and recording a balanced transaction.

Ledger rows are never edited or deleted. Recording a transaction also updates the pre-aggregated
SellerBalance of every seller account it touches, in the same database transaction.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from marketplace.money import normalize_currency, round_half_up
from payouts.models import (
    LedgerEntry,
    LedgerTransaction,
    SellerBalance,
)
from payouts.services._common import _insert_new_rows
from sellers.models import Seller

PLATFORM_BALANCE = "platform:stripe_balance"
PLATFORM_FEES = "platform:fees"
STRIPE_FEES = "stripe:fees"
BUYER_PAYMENTS = "buyer:payments"
BUYER_REFUNDS = "buyer:refunds"
BUYER_DISPUTES = "buyer:disputes"

_ACCOUNT_RE = re.compile(
    r"^(platform:(stripe_balance|fees)|stripe:fees|buyer:(payments|refunds|disputes)"
    r"|seller:(?P<seller>\d+):(?P<kind>balance|payouts))$"
)
# Kinds that move money between a seller's balance and their bank, not earnings.
PAYOUT_KINDS = frozenset({LedgerTransaction.Kind.PAYOUT, LedgerTransaction.Kind.PAYOUT_FAILED})
EARNINGS_DAYS_KEPT = 400


class LedgerError(ValueError):
    """A ledger transaction was refused (unbalanced, unknown account or kind...)."""


@dataclass(frozen=True)
class Posting:
    """One leg of a transaction to record: ``amount`` (signed minor units) on ``account``."""

    account: str
    amount: int
    currency: str


def seller_balance_account(seller_id: int) -> str:
    return f"seller:{seller_id}:balance"


def seller_payouts_account(seller_id: int) -> str:
    return f"seller:{seller_id}:payouts"


def _validate_postings(postings: Sequence[Posting]) -> list[Posting]:
    cleaned: list[Posting] = []
    totals: dict[str, int] = defaultdict(int)
    for posting in postings:
        if not _ACCOUNT_RE.match(posting.account):
            raise LedgerError(f"unknown ledger account {posting.account!r}")
        if isinstance(posting.amount, bool) or not isinstance(posting.amount, int):
            raise LedgerError(f"amount must be an int of minor units, not {posting.amount!r}")
        currency = normalize_currency(posting.currency)
        totals[currency] += posting.amount
        if posting.amount:
            cleaned.append(Posting(posting.account, posting.amount, currency))
    unbalanced = {c: t for c, t in totals.items() if t}
    if unbalanced:
        detail = ", ".join(f"{t:+d} {c.upper()}" for c, t in sorted(unbalanced.items()))
        raise LedgerError(f"unbalanced ledger transaction (entries sum to {detail})")
    return cleaned


@dataclass(frozen=True)
class LedgerMovement:
    """One money movement to record (the arguments of ``ledger_record``)."""

    kind: str
    stripe_object_id: str
    postings: Sequence[Posting]
    occurred_at: datetime | None = None
    seller: Seller | None = None
    order_id: int | None = None
    charge_id: str = ""
    description: str = ""


def ledger_record(
    *,
    kind: str,
    stripe_object_id: str,
    postings: Sequence[Posting],
    occurred_at: datetime | None = None,
    seller: Seller | None = None,
    order_id: int | None = None,
    charge_id: str = "",
    description: str = "",
) -> tuple[LedgerTransaction, bool]:
    """Record one money movement as a balanced transaction; idempotent on the Stripe object.

    Contract: the postings must sum to zero per currency (``LedgerError`` otherwise, nothing
    written); accounts must be known ledger accounts; zero-amount postings are dropped. If a
    transaction of ``kind`` for ``stripe_object_id`` exists, nothing is written and it is returned
    with ``created`` False (a duplicate or replayed event records nothing new).
    Side effects: one LedgerTransaction and its LedgerEntry rows, and the SellerBalance
    aggregates of every seller account touched, all in one database transaction.
    """
    movement = LedgerMovement(
        kind=kind,
        stripe_object_id=stripe_object_id,
        postings=postings,
        occurred_at=occurred_at,
        seller=seller,
        order_id=order_id,
        charge_id=charge_id,
        description=description,
    )
    [txn] = _record(movement_list=[movement])
    if txn is None:
        return LedgerTransaction.objects.get(kind=kind, stripe_object_id=stripe_object_id), False
    return txn, True


def ledger_record_many(movements: Sequence[LedgerMovement]) -> list[bool]:
    """Record several movements, each exactly as ``ledger_record`` would (same checks, same
    idempotency), in a few statements whatever their number: one INSERT of the transactions
    (those already recorded are skipped by the unique constraint, ``ON CONFLICT DO NOTHING``),
    one INSERT of all their entries, then one locked read and one UPDATE of the SellerBalance
    of each seller touched. All or nothing. Returns, per movement, whether it was new."""
    return [txn is not None for txn in _record(movement_list=list(movements))]


def _record(*, movement_list: list[LedgerMovement]) -> list[LedgerTransaction | None]:
    if not movement_list:
        return []
    cleaned_all = []
    for m in movement_list:
        if m.kind not in LedgerTransaction.Kind.values:
            raise LedgerError(f"unknown ledger transaction kind {m.kind!r}")
        if not m.stripe_object_id:
            raise LedgerError("a ledger transaction needs the Stripe object id it comes from")
        cleaned_all.append(_validate_postings(m.postings))
    now = timezone.now()
    # Inside a handler's (or any caller's) transaction no savepoint of our own: an error here
    # propagates and rolls the caller's savepoint or transaction back, as before.
    with transaction.atomic(savepoint=False):
        ids = _insert_transactions(movement_list, now=now)
        result: list[LedgerTransaction | None] = []
        entries: list[LedgerEntry] = []
        per_seller: dict[int, list[tuple[str, Posting, str, datetime]]] = defaultdict(list)
        for m, cleaned in zip(movement_list, cleaned_all, strict=True):
            pk = ids.pop((m.kind, m.stripe_object_id), None)  # a movement listed twice: once
            if pk is None:
                result.append(None)
                continue
            txn = LedgerTransaction(
                id=pk,
                kind=m.kind,
                stripe_object_id=m.stripe_object_id,
                seller=m.seller,
                order_id=m.order_id,
                charge_id=m.charge_id,
                description=m.description[:255],
                occurred_at=m.occurred_at or now,
                recorded_at=now,
            )
            txn._state.adding = False
            txn._state.db = "default"
            result.append(txn)
            for posting in cleaned:
                match = _ACCOUNT_RE.match(posting.account)
                assert match is not None
                seller_id = int(match["seller"]) if match["seller"] else None
                entries.append(
                    LedgerEntry(
                        transaction=txn,
                        account=posting.account,
                        seller_id=seller_id,
                        amount=posting.amount,
                        currency=posting.currency,
                    )
                )
                if seller_id is not None:
                    per_seller[seller_id].append(
                        (match["kind"], posting, m.kind, m.occurred_at or now)
                    )
        if entries:
            LedgerEntry.objects.bulk_create(entries)
        for seller_id, legs in sorted(per_seller.items()):
            _apply_to_seller_balance(seller_id=seller_id, legs=legs)
    return result


def _insert_transactions(
    movements: list[LedgerMovement], *, now: datetime
) -> dict[tuple[str, str], int]:
    """INSERT the movements' transactions in one statement, skipping those already recorded
    (or recorded concurrently: the unique constraint decides). Returns the new rows' ids."""
    from django.db import connection

    columns = [
        "kind",
        "stripe_object_id",
        "seller_id",
        "order_id",
        "charge_id",
        "description",
        "occurred_at",
        "recorded_at",
    ]
    rows = [
        [
            m.kind,
            m.stripe_object_id,
            m.seller.pk if m.seller is not None else None,
            m.order_id,
            m.charge_id,
            m.description[:255],
            connection.ops.adapt_datetimefield_value(m.occurred_at or now),
            connection.ops.adapt_datetimefield_value(now),
        ]
        for m in movements
    ]
    new = _insert_new_rows(
        table=LedgerTransaction._meta.db_table,
        columns=columns,
        rows=rows,
        unique=["kind", "stripe_object_id"],
        returning=["id", "kind", "stripe_object_id"],
    )
    return {(kind, object_id): pk for pk, kind, object_id in new}


def _apply_to_seller_balance(
    *, seller_id: int, legs: list[tuple[str, Posting, str, datetime]]
) -> None:
    """Add the legs (account kind, posting, transaction kind, day) to the seller's aggregates:
    one locked read (created if missing) and one UPDATE, whatever the number of legs."""
    balance, _ = SellerBalance.objects.select_for_update().get_or_create(seller_id=seller_id)
    for account_kind, posting, kind, day in legs:
        balance.entry_count += 1
        if account_kind == "payouts":
            balance.paid_out[posting.currency] = (
                int(balance.paid_out.get(posting.currency, 0)) + posting.amount
            )
            continue
        balance.ledger[posting.currency] = (
            int(balance.ledger.get(posting.currency, 0)) + posting.amount
        )
        if kind not in PAYOUT_KINDS:
            day_key = day.astimezone(UTC).date().isoformat()
            days = balance.earnings_by_day.setdefault(posting.currency, {})
            days[day_key] = int(days.get(day_key, 0)) + posting.amount
    cutoff = (timezone.now() - timedelta(days=EARNINGS_DAYS_KEPT)).date().isoformat()
    for days in balance.earnings_by_day.values():
        for key in [k for k in days if k < cutoff]:
            del days[key]
    balance.save(
        update_fields=["ledger", "paid_out", "earnings_by_day", "entry_count", "updated_at"]
    )


def pro_rata_part(*, share: int, refunded_before: int, refunded_now: int, captured: int) -> int:
    """The part of ``share`` (a fee or a transfer) given back for a refund of ``refunded_now``
    after ``refunded_before`` was already refunded of ``captured``.

    One rounding rule (``round_half_up``) applied to the cumulative amounts, so a series of
    partial refunds adding up to the captured amount gives back exactly ``share``, never more,
    and each part is within one minor unit of its exact pro-rata value.
    """
    if captured <= 0:
        raise ValueError("captured must be positive")
    if refunded_before < 0 or refunded_now < 0 or refunded_before + refunded_now > captured:
        raise ValueError("refunds must be non-negative and at most the captured amount")
    after = round_half_up(share * (refunded_before + refunded_now), captured)
    before = round_half_up(share * refunded_before, captured)
    return after - before


def seller_balance_for(*, seller: Seller) -> SellerBalance:
    """The seller's pre-aggregated balance row, created empty if missing."""
    balance, _ = SellerBalance.objects.get_or_create(seller=seller)
    return balance


def default_currencies() -> list[str]:
    return list(settings.MARKETPLACE_CURRENCIES)


_FLOWS: dict[str, tuple[str, str]] = {
    # kind: (account the money leaves, account it reaches); "seller" = seller:<id>:balance.
    LedgerTransaction.Kind.CHARGE: (BUYER_PAYMENTS, PLATFORM_BALANCE),
    LedgerTransaction.Kind.TRANSFER: (PLATFORM_BALANCE, "seller"),
    LedgerTransaction.Kind.APPLICATION_FEE: ("seller", PLATFORM_FEES),
    LedgerTransaction.Kind.REFUND: (PLATFORM_BALANCE, BUYER_REFUNDS),
    LedgerTransaction.Kind.TRANSFER_REVERSAL: ("seller", PLATFORM_BALANCE),
    LedgerTransaction.Kind.FEE_REFUND: (PLATFORM_FEES, "seller"),
    LedgerTransaction.Kind.DISPUTE_FUNDS_WITHDRAWN: (PLATFORM_BALANCE, BUYER_DISPUTES),
    LedgerTransaction.Kind.DISPUTE_FUNDS_REINSTATED: (BUYER_DISPUTES, PLATFORM_BALANCE),
    LedgerTransaction.Kind.PAYOUT: ("seller", "payouts"),
    LedgerTransaction.Kind.PAYOUT_FAILED: ("payouts", "seller"),
}


def movement_postings(
    *, kind: str, amount: int, currency: str, seller_id: int | None = None
) -> list[Posting]:
    """The two legs of a simple movement of ``amount`` (>= 0) for ``kind`` (see ``_FLOWS``).

    A destination charge is recorded as: charge (buyer -> platform balance), transfer of the
    full amount (platform -> seller), application fee (seller -> platform fees), as Stripe
    moves it; so the seller's net is transfer - fee and amount = fee + seller's net.
    """
    if amount < 0:
        raise LedgerError("a movement amount is never negative; the kind gives the direction")
    source, target = _FLOWS[kind]

    def resolve(account: str) -> str:
        if account in ("seller", "payouts"):
            if seller_id is None:
                raise LedgerError(f"{kind} needs a seller")
            return (
                seller_balance_account(seller_id)
                if account == "seller"
                else seller_payouts_account(seller_id)
            )
        return account

    return [
        Posting(resolve(source), -amount, currency),
        Posting(resolve(target), amount, currency),
    ]


def dispute_withdrawal_postings(*, amount: int, dispute_fee: int, currency: str) -> list[Posting]:
    """Funds withdrawn for a dispute: the disputed amount to the buyer's side and Stripe's
    dispute fee, both from the platform's balance (destination charges: the platform is liable)."""
    return [
        Posting(PLATFORM_BALANCE, -(amount + dispute_fee), currency),
        Posting(BUYER_DISPUTES, amount, currency),
        Posting(STRIPE_FEES, dispute_fee, currency),
    ]
