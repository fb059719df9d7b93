"""The double-entry ledger: accounts, postings, and recording a balanced transaction.

Ledger rows are never edited or deleted. Recording a transaction also updates the pre-aggregated
SellerBalance of every seller account it touches, in the same database transaction.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from django.conf import settings
from django.db import transaction
from django.db.backends.base.base import BaseDatabaseWrapper
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


def _validate_postings(postings: Sequence[Posting]) -> list[tuple[Posting, int | None]]:
    """The non-zero postings, currencies normalised, each with the seller id of its account (None
    for the platform's, Stripe's and buyers' accounts). Raises ``LedgerError``."""
    cleaned: list[tuple[Posting, int | None]] = []
    totals: dict[str, int] = defaultdict(int)
    for posting in postings:
        match = _ACCOUNT_RE.match(posting.account)
        if not match:
            raise LedgerError(f"unknown ledger account {posting.account!r}")
        if isinstance(posting.amount, bool) or not isinstance(posting.amount, int):
            raise LedgerError(f"amount must be an int of minor units, not {posting.amount!r}")
        currency = normalize_currency(posting.currency)
        totals[currency] += posting.amount
        if posting.amount:
            seller = match["seller"]
            cleaned.append(
                (
                    Posting(posting.account, posting.amount, currency),
                    int(seller) if seller else None,
                )
            )
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
    now = timezone.now()
    [pk] = _record([movement], now=now)
    if pk is None:
        return LedgerTransaction.objects.get(kind=kind, stripe_object_id=stripe_object_id), False
    txn = LedgerTransaction(
        id=pk,
        kind=kind,
        stripe_object_id=stripe_object_id,
        seller=seller,
        order_id=order_id,
        charge_id=charge_id,
        description=description[:255],
        occurred_at=occurred_at or now,
        recorded_at=now,
    )
    txn._state.adding = False
    txn._state.db = "default"
    return txn, True


def ledger_record_many(movements: Sequence[LedgerMovement]) -> list[bool]:
    """Record several movements, each exactly as ``ledger_record`` would (same checks, same
    idempotency), in a few statements whatever their number: the transactions (those already
    recorded are skipped by the unique constraint, ``ON CONFLICT DO NOTHING``) and their
    entries, then the SellerBalance of every seller touched (see ``_record``). All or nothing.
    Returns, per movement, whether it was new."""
    return [pk is not None for pk in _record(list(movements), now=timezone.now())]


_KINDS = frozenset(LedgerTransaction.Kind.values)
# An entry to write: (index of its movement, account, seller id or None, amount, currency).
_Entry = tuple[int, str, int | None, int, str]


def _record(movement_list: list[LedgerMovement], *, now: datetime) -> list[int | None]:
    """Record the movements; per movement, the new transaction's id or None (recorded before,
    or listed twice: recorded once).

    PostgreSQL: two statements whatever the number of movements and sellers: one INSERT of the
    transactions and their entries (a data-modifying CTE: entries only for the transactions the
    unique constraint let in), one INSERT ... ON CONFLICT DO UPDATE of the sellers' balances that
    adds the new entries' sums to the JSON aggregates in SQL (the row locked by the upsert, as by a
    locked read; created when missing, also when created concurrently). Other databases (SQLite):
    the same rows through the portable path, a few more statements (``_insert_transactions``,
    ``bulk_create``, ``_apply_to_seller_balance``)."""
    if not movement_list:
        return []
    entries: list[_Entry] = []
    for index, m in enumerate(movement_list):
        if m.kind not in _KINDS:
            raise LedgerError(f"unknown ledger transaction kind {m.kind!r}")
        if not m.stripe_object_id:
            raise LedgerError("a ledger transaction needs the Stripe object id it comes from")
        for posting, seller_id in _validate_postings(m.postings):
            entries.append((index, posting.account, seller_id, posting.amount, posting.currency))
    # Inside a handler's (or any caller's) transaction no savepoint of our own: an error here
    # propagates and rolls the caller's savepoint or transaction back, as before.
    with transaction.atomic(savepoint=False):
        connection = transaction.get_connection()
        if upsert_sql(connection):
            first: dict[tuple[str, str], int] = {}
            for index, m in enumerate(movement_list):
                first.setdefault((m.kind, m.stripe_object_id), index)
            firsts = set(first.values())  # a movement listed twice: its entries once
            ids = _insert_with_entries(
                movement_list, [e for e in entries if e[0] in firsts], now=now
            )
        else:
            ids = _insert_transactions(movement_list, now=now)
        result: list[int | None] = []
        new: set[int] = set()
        for index, m in enumerate(movement_list):
            pk = ids.pop((m.kind, m.stripe_object_id), None)  # a movement listed twice: once
            result.append(pk)
            if pk is not None:
                new.add(index)
        written = [e for e in entries if e[0] in new]
        if written and not upsert_sql(connection):
            LedgerEntry.objects.bulk_create(
                LedgerEntry(
                    transaction_id=cast(int, result[index]),
                    account=account,
                    seller_id=seller_id,
                    amount=amount,
                    currency=currency,
                )
                for index, account, seller_id, amount, currency in written
            )
        deltas = _balance_deltas(movement_list, written, now=now)
        if deltas:
            if upsert_sql(connection):
                _upsert_seller_balances(deltas, now=now)
            else:
                for seller_id, delta in sorted(deltas.items()):
                    _apply_to_seller_balance(seller_id=seller_id, delta=delta)
    return result


def upsert_sql(connection: BaseDatabaseWrapper) -> bool:
    """Whether the database takes the few-statement SQL of the ledger and the payouts
    (PostgreSQL's jsonb, data-modifying CTEs, ``ON CONFLICT DO UPDATE``); the other databases
    (SQLite for ``make demo``) take the portable path, which writes the same rows."""
    return connection.vendor == "postgresql"


def _insert_transactions(
    movements: list[LedgerMovement], *, now: datetime
) -> dict[tuple[str, str], int]:
    """INSERT the movements' transactions in one statement, skipping those already recorded
    (or recorded concurrently: the unique constraint decides). Returns the new rows' ids."""
    connection = transaction.get_connection()
    new = _insert_new_rows(
        table=LedgerTransaction._meta.db_table,
        columns=_TXN_COLUMNS,
        rows=_transaction_rows(movements, now=now, connection=connection),
        unique=["kind", "stripe_object_id"],
        returning=["id", "kind", "stripe_object_id"],
    )
    return {(kind, object_id): pk for pk, kind, object_id in new}


_TXN_COLUMNS = [
    "kind",
    "stripe_object_id",
    "seller_id",
    "order_id",
    "charge_id",
    "description",
    "occurred_at",
    "recorded_at",
]


def _transaction_rows(
    movements: list[LedgerMovement], *, now: datetime, connection: BaseDatabaseWrapper
) -> list[list[Any]]:
    adapt = connection.ops.adapt_datetimefield_value
    return [
        [
            m.kind,
            m.stripe_object_id,
            m.seller.pk if m.seller is not None else None,
            m.order_id,
            m.charge_id,
            m.description[:255],
            adapt(m.occurred_at or now),
            adapt(now),
        ]
        for m in movements
    ]


def _insert_with_entries(
    movements: list[LedgerMovement], entries: list[_Entry], *, now: datetime
) -> dict[tuple[str, str], int]:
    """PostgreSQL: INSERT the transactions, skipping those already recorded, and the entries of
    those inserted, in one statement (entries in the order given). Returns the new rows' ids."""
    connection = transaction.get_connection()
    txn_table = connection.ops.quote_name(LedgerTransaction._meta.db_table)
    row = "(" + ", ".join(["%s"] * len(_TXN_COLUMNS)) + ")"
    params: list[Any] = [
        value
        for values in _transaction_rows(movements, now=now, connection=connection)
        for value in values
    ]
    sql = (
        f"WITH t AS (INSERT INTO {txn_table} ({', '.join(_TXN_COLUMNS)}) "  # noqa: S608
        f"VALUES {', '.join([row] * len(movements))} "
        "ON CONFLICT (kind, stripe_object_id) DO NOTHING RETURNING id, kind, stripe_object_id)"
    )  # only the model's own table name is interpolated; values are parameters
    if entries:
        entry_table = connection.ops.quote_name(LedgerEntry._meta.db_table)
        typed = (
            "(%s::varchar, %s::varchar, %s::int, %s::varchar, %s::bigint, %s::bigint, %s::varchar)"
        )
        plain = "(%s, %s, %s, %s, %s, %s, %s)"
        values = ", ".join([typed] + [plain] * (len(entries) - 1))
        sql += (
            f", e AS (INSERT INTO {entry_table} "  # noqa: S608
            "(transaction_id, account, seller_id, amount, currency, created_at) "
            "SELECT t.id, v.account, v.seller_id, v.amount, v.currency, %s "
            f"FROM (VALUES {values}) AS v(kind, oid, n, account, seller_id, amount, currency) "
            "JOIN t ON t.kind = v.kind AND t.stripe_object_id = v.oid ORDER BY v.n)"
        )
        params.append(now)
        for n, (index, account, seller_id, amount, currency) in enumerate(entries):
            m = movements[index]
            params += [m.kind, m.stripe_object_id, n, account, seller_id, amount, currency]
    sql += " SELECT id, kind, stripe_object_id FROM t"
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {(kind, object_id): pk for pk, kind, object_id in cursor.fetchall()}


@dataclass
class _BalanceDelta:
    """What new entries add to one seller's SellerBalance."""

    ledger: dict[str, int] = field(default_factory=dict)
    paid_out: dict[str, int] = field(default_factory=dict)
    earnings_by_day: dict[str, dict[str, int]] = field(default_factory=dict)
    entry_count: int = 0


def _earnings_cutoff() -> str:
    return (timezone.now() - timedelta(days=EARNINGS_DAYS_KEPT)).date().isoformat()


def _balance_deltas(
    movements: list[LedgerMovement], written: list[_Entry], *, now: datetime
) -> dict[int, _BalanceDelta]:
    """Per seller touched by the ``written`` entries, what they add to its aggregates: per
    currency, the balance account's sum, the payouts account's sum, and the balance's net change
    per UTC day of the movement, payouts excluded (days older than ``EARNINGS_DAYS_KEPT`` are
    dropped, as the stored ones are)."""
    deltas: dict[int, _BalanceDelta] = {}
    cutoff = _earnings_cutoff()
    for index, account, seller_id, amount, currency in written:
        if seller_id is None:
            continue
        delta = deltas.get(seller_id)
        if delta is None:
            delta = deltas[seller_id] = _BalanceDelta()
        delta.entry_count += 1
        if account.endswith(":payouts"):
            delta.paid_out[currency] = delta.paid_out.get(currency, 0) + amount
            continue
        delta.ledger[currency] = delta.ledger.get(currency, 0) + amount
        m = movements[index]
        if m.kind not in PAYOUT_KINDS:
            days = delta.earnings_by_day.setdefault(currency, {})
            day = (m.occurred_at or now).astimezone(UTC).date().isoformat()
            if day >= cutoff:
                days[day] = days.get(day, 0) + amount
    return deltas


def _merge_sums(into: dict[str, Any], delta: dict[str, int]) -> None:
    for key, amount in delta.items():
        into[key] = int(into.get(key, 0)) + amount


# The SET of the balances' upsert: the row's JSON sums plus the new entries' (EXCLUDED's), in SQL.
# Per currency for ledger and paid_out; per currency and day for earnings_by_day, whose days
# before the cutoff (%s) are dropped, its currencies kept (as ``_apply_to_seller_balance``).
_SUMS = (
    "b.{col} || (SELECT coalesce(jsonb_object_agg(d.key, coalesce((b.{col} ->> d.key)::bigint, 0)"
    " + d.value::bigint), '{{}}'::jsonb) FROM jsonb_each_text(EXCLUDED.{col}) d)"
)
_DAYS = (
    "(SELECT coalesce(jsonb_object_agg(c.cur, (SELECT coalesce(jsonb_object_agg(s.day, s.total),"
    " '{}'::jsonb) FROM (SELECT x.key AS day, sum(x.value::bigint)::bigint AS total FROM ("
    "SELECT * FROM jsonb_each_text(coalesce(b.earnings_by_day -> c.cur, '{}'::jsonb)) UNION ALL "
    "SELECT * FROM jsonb_each_text(coalesce(EXCLUDED.earnings_by_day -> c.cur, '{}'::jsonb))) x "
    "WHERE x.key >= %s GROUP BY x.key) s)), '{}'::jsonb) FROM (SELECT jsonb_object_keys("
    "b.earnings_by_day) UNION SELECT jsonb_object_keys(EXCLUDED.earnings_by_day)) AS c(cur))"
)


def _upsert_seller_balances(deltas: dict[int, _BalanceDelta], *, now: datetime) -> None:
    """PostgreSQL: add ``deltas`` to the sellers' SellerBalance rows in one statement, creating
    the missing ones (also when created concurrently: the unique seller decides); rows in seller
    order, so concurrent writers lock them in the same order."""
    connection = transaction.get_connection()
    table = connection.ops.quote_name(SellerBalance._meta.db_table)
    row = "(%s, %s::jsonb, %s::jsonb, %s::jsonb, %s, '{}', '{}', NULL, '', %s)"
    params: list[Any] = []
    for seller_id, delta in sorted(deltas.items()):
        params += [
            seller_id,
            json.dumps(delta.ledger),
            json.dumps(delta.paid_out),
            json.dumps(delta.earnings_by_day),
            delta.entry_count,
            now,
        ]
    sql = (
        f"INSERT INTO {table} AS b (seller_id, ledger, paid_out, earnings_by_day, entry_count, "  # noqa: S608
        "stripe_available, stripe_pending, stripe_refreshed_at, stripe_refresh_error, updated_at) "
        f"VALUES {', '.join([row] * len(deltas))} ON CONFLICT (seller_id) DO UPDATE SET "
        f"ledger = {_SUMS.format(col='ledger')}, paid_out = {_SUMS.format(col='paid_out')}, "
        f"earnings_by_day = {_DAYS}, entry_count = b.entry_count + EXCLUDED.entry_count, "
        "updated_at = EXCLUDED.updated_at"
    )  # only the model's own table name is interpolated; values are parameters
    params.append(_earnings_cutoff())
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _apply_to_seller_balance(*, seller_id: int, delta: _BalanceDelta) -> None:
    """The portable path: add ``delta`` to the seller's aggregates with one locked read
    (created if missing) and one UPDATE."""
    balance, _ = SellerBalance.objects.select_for_update().get_or_create(seller_id=seller_id)
    balance.entry_count += delta.entry_count
    _merge_sums(balance.paid_out, delta.paid_out)
    _merge_sums(balance.ledger, delta.ledger)
    for currency, days in delta.earnings_by_day.items():
        _merge_sums(balance.earnings_by_day.setdefault(currency, {}), days)
    cutoff = _earnings_cutoff()
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
    LedgerTransaction.Kind.STRIPE_FEE: (PLATFORM_BALANCE, STRIPE_FEES),
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
