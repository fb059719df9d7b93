"""Reconciliation: every Stripe movement has its ledger transaction, and every ledger
transaction its Stripe movement (design section 4, invariant 7).

Streams Stripe's balance transactions page by page (the gateway's iterator fetches 100 at a
time) and writes, per batch of them, one scratch row per ledger transaction they call for, with
what that transaction should show (one ``COPY`` on PostgreSQL, one ``executemany`` elsewhere).
After each account read, one set-based query joins its scratch rows with the ledger and returns
only the problems; after all of them, one more finds ledger transactions that no balance
transaction named. Nothing is held per transaction, so memory stays flat in the number of
transactions (``bench/reconciliation.py``).

A movement found on both sides is also compared by amount and currency: the ledger transaction
moved ``|amount|`` of the balance transaction (for a dispute, whose balance transaction carries
the dispute fee, the platform's leg equals its ``net``). Stripe's processing fee on a charge
(the balance transaction's ``fee``) is its own ledger transaction, named by the ``txn_`` id, and
is compared too. A balance transaction converted from another currency
(``exchange_rate`` set) is matched but not compared.

A processing fee can be awaited (the charge recorded from its event, the fee to be read in a
batch, ``payouts/services/stripe_fees.py``): a run first records the awaited fees, so a fee
merely late is not reported; one still awaited after that (Stripe unreachable then) is reported
missing like any other, its issue saying it is awaited.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from marketplace import stripe_gateway
from payouts.models import (
    AwaitedStripeFee,
    LedgerEntry,
    LedgerTransaction,
    ReconciliationRun,
    ReconciliationSeen,
)
from payouts.services.ledger import PLATFORM_BALANCE
from sellers.models import Seller

K = LedgerTransaction.Kind
BATCH = 2000  # scratch rows per write
MAX_ISSUES_KEPT = 1000

PLATFORM_TYPES = {
    "charge": K.CHARGE,
    "payment": K.CHARGE,
    "transfer": K.TRANSFER,
    "application_fee": K.APPLICATION_FEE,
    "refund": K.REFUND,
    "transfer_refund": K.TRANSFER_REVERSAL,
    "application_fee_refund": K.FEE_REFUND,
}
CONNECTED_TYPES = {
    "payout": K.PAYOUT,
    "payout_failure": K.PAYOUT_FAILED,
    "payout_cancel": K.PAYOUT_FAILED,
}
RECONCILED_KINDS = set(PLATFORM_TYPES.values()) | {
    K.STRIPE_FEE,
    K.DISPUTE_FUNDS_WITHDRAWN,
    K.DISPUTE_FUNDS_REINSTATED,
    K.PAYOUT,
    K.PAYOUT_FAILED,
}


def expected_kind(bt: dict[str, Any], *, connected: bool) -> str | None:
    """The ledger kind a balance transaction should have, or None when the ledger does not
    mirror it (Stripe's own fees, the connected side of platform movements)."""
    bt_type = str(bt.get("type") or "")
    source = bt.get("source")
    if not isinstance(source, str) or not source:
        return None
    if connected:
        return CONNECTED_TYPES.get(bt_type)
    if bt_type == "adjustment" and source.startswith(("dp_", "du_")):
        return (
            K.DISPUTE_FUNDS_WITHDRAWN
            if int(bt.get("amount") or 0) < 0
            else K.DISPUTE_FUNDS_REINSTATED
        )
    return PLATFORM_TYPES.get(bt_type)


DISPUTE_KINDS = {K.DISPUTE_FUNDS_WITHDRAWN, K.DISPUTE_FUNDS_REINSTATED}


def expected_amount(bt: dict[str, Any], kind: str) -> int | None:
    """What the ledger transaction of ``kind`` should show for ``bt`` (see ``ledger_mismatch``),
    or None when it is not compared (converted from another currency)."""
    if bt.get("exchange_rate") is not None:
        return None
    if kind in DISPUTE_KINDS:
        return int(bt.get("net") or 0)
    if kind == K.STRIPE_FEE:
        return int(bt.get("fee") or 0)
    return abs(int(bt.get("amount") or 0))


def ledger_mismatch(kind: str, currency: str, expected: int, ledger: dict[str, Any]) -> str | None:
    """Why the ledger's side disagrees with what Stripe's movement calls for, or None.
    ``ledger``: the transaction's ``currency``, ``moved`` (sum of its positive legs) and
    ``platform`` (its leg on the platform's balance); disputes compare the platform's leg."""
    if ledger["currency"] != currency:
        return f"currency {currency.upper()} but the ledger has {ledger['currency'].upper()}"
    found = int((ledger["platform"] if kind in DISPUTE_KINDS else ledger["moved"]) or 0)
    if expected != found:
        return f"amount {expected} but the ledger moved {found}"
    return None


def amount_mismatch(bt: dict[str, Any], kind: str, ledger: dict[str, Any]) -> str | None:
    """Why the ledger's side of a matched movement disagrees with Stripe's, or None."""
    expected = expected_amount(bt, kind)
    if expected is None:
        return None
    return ledger_mismatch(kind, str(bt.get("currency") or "").lower(), expected, ledger)


def reconcile(
    *,
    start: datetime,
    end: datetime,
    accounts: Iterable[str] | None = None,
    run: ReconciliationRun | None = None,
) -> ReconciliationRun:
    """Compare Stripe's balance transactions created in [start, end) with the ledger.

    ``accounts``: connected accounts to read (default: every seller's). ``run``: a queued run
    to carry out (from ``reconciliation_request``); by default a new one. Side effects: the
    ReconciliationRun row with counts, progress (``scopes_done`` of ``scopes_total``, saved after
    each account) and the first issues; scratch rows removed at the end.
    Raises ``GatewayError`` (kept on the run as failed) when Stripe cannot be read.
    """
    from payouts.services.stripe_fees import stripe_fees_record

    if run is None:
        run = ReconciliationRun.objects.create(period_start=start, period_end=end)
    else:
        run.status = ReconciliationRun.Status.RUNNING
    # Stripe's processing fees awaited (charges recorded from their events): recorded first, so
    # that a fee merely late is not a difference. One still awaited is reported (``_compare``).
    stripe_fees_record()
    sellers = Seller.objects.exclude(stripe_account_id__isnull=True).exclude(stripe_account_id="")
    chosen = list(accounts) if accounts is not None else None
    run.scopes_total = 1 + (len(chosen) if chosen is not None else sellers.count())
    run.save(update_fields=["status", "scopes_total"])
    issues: list[str] = []

    def issue(line: str) -> None:
        if len(issues) < MAX_ISSUES_KEPT:
            issues.append(line)

    connected: Iterable[Any] = (
        chosen
        if chosen is not None
        else sellers.values_list("stripe_account_id", flat=True).iterator()
    )
    scopes: Iterable[str | None] = [None, *connected]
    scratch = _Scratch(run)
    try:
        for account in scopes:
            try:
                _reconcile_scope(run, account, start, end, issue, scratch)
            except stripe_gateway.GatewayError as exc:
                if account is None:
                    raise
                # One unreadable connected account (deauthorized...) does not stop the others.
                run.unreadable_accounts += 1
                issue(f"could not read the balance transactions of {account}: {exc.message}")
            run.scopes_done += 1
            ReconciliationRun.objects.filter(pk=run.pk).update(
                scopes_done=run.scopes_done, stripe_transactions=run.stripe_transactions
            )
        seen = ReconciliationSeen.objects.filter(
            run=run, kind=OuterRef("kind"), stripe_object_id=OuterRef("stripe_object_id")
        )
        in_period = LedgerTransaction.objects.filter(
            occurred_at__gte=start, occurred_at__lt=end, kind__in=RECONCILED_KINDS
        )
        if chosen is not None:  # connected accounts not read: their payouts are not compared
            in_period = in_period.exclude(
                Q(kind__in=set(CONNECTED_TYPES.values())) & ~Q(seller__stripe_account_id__in=chosen)
            )
        orphans = (
            in_period.exclude(Exists(seen))
            .values_list("kind", "stripe_object_id")
            .iterator(chunk_size=2000)
        )
        for kind, object_id in orphans:
            run.missing_in_stripe += 1
            issue(f"ledger {kind} {object_id} has no Stripe balance transaction")
    except stripe_gateway.GatewayError as exc:
        run.status = ReconciliationRun.Status.FAILED
        run.error = exc.message
    else:
        run.status = (
            ReconciliationRun.Status.MISMATCHES
            if run.missing_in_ledger
            or run.missing_in_stripe
            or run.amount_mismatches
            or run.unreadable_accounts
            else ReconciliationRun.Status.CLEAN
        )
    finally:
        ReconciliationSeen.objects.filter(run=run).delete()
    run.issues = issues
    run.finished_at = timezone.now()
    run.save()
    return run


class _Scratch:
    """The run's scratch rows (``ReconciliationSeen``), written a batch at a time, numbered in
    the order Stripe's stream met them."""

    COLUMNS = (
        "run_id",
        "seq",
        "kind",
        "stripe_object_id",
        "txn_id",
        "bt_type",
        "amount",
        "currency",
        "expected",
    )

    def __init__(self, run: ReconciliationRun) -> None:
        self.run = run
        self.seq = 0
        self.table = connection.ops.quote_name(ReconciliationSeen._meta.db_table)  # ours

    def write(self, rows: list[tuple[Any, ...]]) -> None:
        if not rows:
            return
        columns = ", ".join(self.COLUMNS)
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                # COPY: one statement for the batch, rows streamed in the copy protocol (a
                # multi-row INSERT costs a parse of thousands of parameters, ``executemany``
                # a round trip per row).
                with cursor.copy(f"COPY {self.table} ({columns}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            else:
                marks = ", ".join(["%s"] * len(self.COLUMNS))
                with transaction.atomic():
                    cursor.executemany(
                        f"INSERT INTO {self.table} ({columns}) VALUES ({marks})",  # noqa: S608
                        rows,
                    )


def _reconcile_scope(
    run: ReconciliationRun,
    account: str | None,
    start: datetime,
    end: datetime,
    issue: Any,
    scratch: _Scratch,
) -> None:
    """Check the balance transactions of the platform (None) or one connected account: stream
    them into scratch rows, then compare those with the ledger in one query. A connected
    account that fails mid-stream still has what was read compared, then the error raised."""
    stream = stripe_gateway.balance_transactions_iter(
        created_gte=int(start.timestamp()),
        created_lt=int(end.timestamp()),
        stripe_account=account,
    )
    first = scratch.seq + 1
    rows: list[tuple[Any, ...]] = []
    connected = account is not None
    try:
        for bt in stream:
            run.stripe_transactions += 1
            kind = expected_kind(bt, connected=connected)
            if kind is None:
                continue
            scratch.seq += 1
            currency = str(bt.get("currency") or "").lower()
            amount = int(bt.get("amount") or 0)
            rows.append(
                (
                    run.pk,
                    scratch.seq,
                    kind,
                    str(bt["source"]),
                    str(bt.get("id") or ""),
                    str(bt.get("type") or ""),
                    amount,
                    currency,
                    expected_amount(bt, kind),
                )
            )
            if kind == K.CHARGE and int(bt.get("fee") or 0) and bt.get("exchange_rate") is None:
                # Stripe's processing fee: its own ledger transaction, named by the txn_ id.
                scratch.seq += 1
                txn_id = str(bt["id"])
                rows.append(
                    (
                        run.pk,
                        scratch.seq,
                        K.STRIPE_FEE,
                        txn_id,
                        txn_id,
                        str(bt.get("type") or ""),
                        amount,
                        currency,
                        int(bt["fee"]),
                    )
                )
            if len(rows) >= BATCH:
                scratch.write(rows)
                rows = []
    except stripe_gateway.GatewayError:
        if not connected:
            raise  # the run fails: nothing to compare
        scratch.write(rows)
        _compare(run, account, first, scratch.seq, issue)
        raise
    scratch.write(rows)
    _compare(run, account, first, scratch.seq, issue)


# The scratch rows of one account read (seq first..last) that do not match the ledger: no
# ledger transaction of that kind and id (or one without entries), or, when compared, another
# currency or amount. Only problems come back, in the order Stripe's stream met them.
_PROBLEMS_SQL = """
SELECT s.seq, s.kind, s.stripe_object_id, s.txn_id, s.bt_type, s.amount, s.currency,
       s.expected, COUNT(e.id), MIN(e.currency), MAX(e.currency),
       SUM(CASE WHEN e.amount > 0 THEN e.amount ELSE 0 END),
       SUM(CASE WHEN e.account = %(platform)s THEN e.amount ELSE 0 END)
FROM {seen} s
LEFT JOIN {txn} t ON t.kind = s.kind AND t.stripe_object_id = s.stripe_object_id
LEFT JOIN {entry} e ON e.transaction_id = t.id
WHERE s.run_id = %(run)s AND s.seq >= %(first)s AND s.seq <= %(last)s
GROUP BY s.id, s.seq, s.kind, s.stripe_object_id, s.txn_id, s.bt_type, s.amount, s.currency,
         s.expected
HAVING COUNT(e.id) = 0 OR (s.expected IS NOT NULL AND (
    MIN(e.currency) <> s.currency OR MAX(e.currency) <> s.currency
    OR CASE WHEN s.kind IN (%(withdrawn)s, %(reinstated)s)
            THEN SUM(CASE WHEN e.account = %(platform)s THEN e.amount ELSE 0 END)
            ELSE SUM(CASE WHEN e.amount > 0 THEN e.amount ELSE 0 END) END <> s.expected))
ORDER BY s.seq
"""


def _compare(
    run: ReconciliationRun, account: str | None, first: int, last: int, issue: Any
) -> None:
    """Count and word the problems among the scratch rows ``first``..``last`` (one account)."""
    if last < first:
        return
    quote = connection.ops.quote_name
    sql = _PROBLEMS_SQL.format(
        seen=quote(ReconciliationSeen._meta.db_table),
        txn=quote(LedgerTransaction._meta.db_table),
        entry=quote(LedgerEntry._meta.db_table),
    )
    params: dict[str, Any] = {
        "platform": PLATFORM_BALANCE,
        "run": run.pk,
        "first": first,
        "last": last,
        "withdrawn": K.DISPUTE_FUNDS_WITHDRAWN,
        "reinstated": K.DISPUTE_FUNDS_REINSTATED,
    }
    where = f" on {account}" if account else ""
    # A server-side cursor on PostgreSQL: a run where everything differs streams too.
    with transaction.atomic(), connection.chunked_cursor() as cursor:
        cursor.execute(sql, params)
        while chunk := cursor.fetchmany(2000):
            for row in chunk:
                _, kind, source, txn_id, bt_type, amount, currency, expected = row[:8]
                entries, low, high, moved, platform = row[8:]
                what = f"Stripe {bt_type} {source}{where} ({amount} {currency.upper()}, {txn_id})"
                if not entries:
                    run.missing_in_ledger += 1
                    awaited = ""
                    if kind == K.STRIPE_FEE and _fee_awaited(txn_id):
                        awaited = " (awaited: Stripe's balance transaction could not be read yet)"
                    issue(f"{what} has no ledger {kind} transaction{awaited}")
                    continue
                ledger = {"moved": moved, "platform": platform}
                why = ledger_mismatch(
                    kind,
                    currency,
                    expected,
                    {**ledger, "currency": low if low != currency else high},
                )
                if why is not None:
                    run.amount_mismatches += 1
                    issue(f"{what}: {why}")


def _fee_awaited(txn_id: str) -> bool:
    """Whether Stripe's processing fee on balance transaction ``txn_id`` is still awaited
    (``stripe_fees_record`` could not read it): one query, only for a fee found missing."""
    return AwaitedStripeFee.objects.filter(balance_transaction_id=txn_id).exists()


# --- Runs asked for by a person -------------------------------------------------------------------

MAX_REQUESTED_DAYS = 92


def day_bounds(start_day: date, end_day: date) -> tuple[datetime, datetime]:
    """[start of ``start_day``, start of the day after ``end_day``) in UTC."""
    return (
        datetime.combine(start_day, datetime.min.time(), tzinfo=UTC),
        datetime.combine(end_day + timedelta(days=1), datetime.min.time(), tzinfo=UTC),
    )


def reconciliation_request(
    *, start_day: date, end_day: date, actor: Any = None
) -> ReconciliationRun:
    """A staff member (or an operator at the command line) asks for a reconciliation of the UTC
    days ``start_day``..``end_day``: the request goes to the audit log now, with who and from
    where; a ``queued`` run (``requested_by`` = ``actor``) shows on the reconciliation page at
    once, and a Celery task enqueued after commit carries it out, its progress saved as it goes.
    "Future" is judged by Stripe's clock (the sandbox's may be ahead of ours).
    Raises UserFacingError for a reversed, future or too long range, and while another run a
    person asked for is still queued or running.
    """
    from marketplace.audit.services import Action, audit_record
    from marketplace.errors import UserFacingError
    from payouts import tasks

    stripe_today = datetime.fromtimestamp(stripe_gateway.stripe_now(), tz=UTC).date()
    if end_day < start_day:
        raise UserFacingError("The last day is before the first.", field="end_day")
    if end_day > max(stripe_today, timezone.now().date()):
        raise UserFacingError("The last day is in the future.", field="end_day")
    if (end_day - start_day).days + 1 > MAX_REQUESTED_DAYS:
        raise UserFacingError(
            f"At most {MAX_REQUESTED_DAYS} days at a time (use manage.py reconcile for more).",
            field="start_day",
        )
    with transaction.atomic():
        busy = (
            ReconciliationRun.objects.select_for_update()
            .filter(status=ReconciliationRun.Status.QUEUED)
            .exists()
        )
        if busy:
            raise UserFacingError("A reconciliation is already queued; its progress is below.")
        start, end = day_bounds(start_day, end_day)
        run = ReconciliationRun.objects.create(
            period_start=start,
            period_end=end,
            status=ReconciliationRun.Status.QUEUED,
            requested_by=actor if getattr(actor, "pk", None) else None,
        )
        audit_record(
            action=Action.RECONCILIATION_RUN,
            object_type="payouts.reconciliationrun",
            object_id=f"{start_day.isoformat()}..{end_day.isoformat()}",
            object_repr=f"Reconciliation {start_day.isoformat()} to {end_day.isoformat()}",
            summary="Asked for a reconciliation run",
            after={"start_day": start_day.isoformat(), "end_day": end_day.isoformat()},
        )
        transaction.on_commit(functools.partial(tasks.run_reconciliation.delay, run.pk))
    return run
