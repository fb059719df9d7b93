"""Reconciliation: every Stripe movement has its ledger transaction, and every ledger
transaction its Stripe movement (design section 4, invariant 7).

Streams Stripe's balance transactions page by page (the gateway's iterator fetches 100 at a
time), checks each batch against the ledger with one query, and keeps the sources met as scratch
rows, so memory stays flat in the number of transactions.

A movement found on both sides is also compared by amount and currency: the ledger transaction
moved ``|amount|`` of the balance transaction (for a dispute, whose balance transaction carries
the dispute fee, the platform's leg equals its ``net``). Stripe's processing fee on a charge
(the balance transaction's ``fee``) is its own ledger transaction, named by the ``txn_`` id, and
is compared too. A balance transaction converted from another currency
(``exchange_rate`` set) is matched but not compared.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Q, Sum
from django.utils import timezone

from marketplace import stripe_gateway
from payouts.models import LedgerEntry, LedgerTransaction, ReconciliationRun, ReconciliationSeen
from payouts.services.ledger import PLATFORM_BALANCE
from sellers.models import Seller

K = LedgerTransaction.Kind
BATCH = 500
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


def amount_mismatch(bt: dict[str, Any], kind: str, ledger: dict[str, Any]) -> str | None:
    """Why the ledger's side of a matched movement disagrees with Stripe's, or None.
    ``ledger``: the transaction's ``currency``, ``moved`` (sum of its positive legs) and
    ``platform`` (its leg on the platform's balance)."""
    currency = str(bt.get("currency") or "").lower()
    if bt.get("exchange_rate") is not None:
        return None
    if ledger["currency"] != currency:
        return f"currency {currency.upper()} but the ledger has {ledger['currency'].upper()}"
    if kind in DISPUTE_KINDS:
        expected, found = int(bt.get("net") or 0), int(ledger["platform"] or 0)
    elif kind == K.STRIPE_FEE:
        expected, found = int(bt.get("fee") or 0), int(ledger["moved"] or 0)
    else:
        expected, found = abs(int(bt.get("amount") or 0)), int(ledger["moved"] or 0)
    if expected != found:
        return f"amount {expected} but the ledger moved {found}"
    return None


def _batches(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


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
    if run is None:
        run = ReconciliationRun.objects.create(period_start=start, period_end=end)
    else:
        run.status = ReconciliationRun.Status.RUNNING
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
    try:
        for account in scopes:
            try:
                _reconcile_scope(run, account, start, end, issue)
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


def _reconcile_scope(
    run: ReconciliationRun, account: str | None, start: datetime, end: datetime, issue: Any
) -> None:
    """Check the balance transactions of the platform (None) or one connected account."""
    stream = stripe_gateway.balance_transactions_iter(
        created_gte=int(start.timestamp()),
        created_lt=int(end.timestamp()),
        stripe_account=account,
    )
    for batch in _batches(stream, BATCH):
        wanted: list[tuple[str, str, dict[str, Any]]] = []
        for bt in batch:
            run.stripe_transactions += 1
            kind = expected_kind(bt, connected=account is not None)
            if kind is not None:
                wanted.append((kind, str(bt["source"]), bt))
            if kind == K.CHARGE and int(bt.get("fee") or 0) and bt.get("exchange_rate") is None:
                # Stripe's processing fee: its own ledger transaction, named by the txn_ id.
                wanted.append((K.STRIPE_FEE, str(bt["id"]), bt))
        if not wanted:
            continue
        known = _ledger_side(wanted)
        for kind, source, bt in wanted:
            where = f" on {account}" if account else ""
            what = (
                f"Stripe {bt.get('type')} {source}{where} ({bt.get('amount')} "
                f"{str(bt.get('currency', '')).upper()}, {bt.get('id')})"
            )
            ledger = known.get((kind, source))
            if ledger is None:
                run.missing_in_ledger += 1
                issue(f"{what} has no ledger {kind} transaction")
                continue
            why = amount_mismatch(bt, kind, ledger)
            if why is not None:
                run.amount_mismatches += 1
                issue(f"{what}: {why}")
        _remember_seen(run, [(kind, source) for kind, source, _ in wanted])


def _ledger_side(wanted: list[tuple[str, str, dict[str, Any]]]) -> dict[tuple[str, str], Any]:
    """{(kind, stripe object id): {currency, moved, platform}} of the ledger transactions a
    batch names. Two index-driven queries: the transactions by (kind, id), the unique index's
    order (a lookup by id alone cannot use it, and made every batch scan the whole ledger:
    quadratic in the number of transactions); then their entries by transaction id."""
    by_kind: dict[str, set[str]] = {}
    for kind, source, _ in wanted:
        by_kind.setdefault(kind, set()).add(source)
    named = Q()
    for kind, sources in by_kind.items():
        named |= Q(kind=kind, stripe_object_id__in=sources)
    txns = {
        pk: (kind, object_id)
        for pk, kind, object_id in LedgerTransaction.objects.filter(named)
        .order_by()
        .values_list("id", "kind", "stripe_object_id")
    }
    if not txns:
        return {}
    rows = (
        LedgerEntry.objects.filter(transaction_id__in=txns)
        .values("transaction_id", "currency")
        .annotate(
            moved=Sum("amount", filter=Q(amount__gt=0)),
            platform=Sum("amount", filter=Q(account=PLATFORM_BALANCE)),
        )
        .order_by()
    )
    return {txns[row["transaction_id"]]: row for row in rows}


def _remember_seen(run: ReconciliationRun, seen: list[tuple[str, str]]) -> None:
    """Insert the batch's scratch rows with one ``executemany``: building a model instance per
    row for ``bulk_create`` was a third of the reconciliation's time (``bench/reconciliation``)."""
    table = connection.ops.quote_name(ReconciliationSeen._meta.db_table)  # ours, not input
    sql = f"INSERT INTO {table} (run_id, kind, stripe_object_id) VALUES (%s, %s, %s)"  # noqa: S608
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.executemany(sql, [(run.pk, kind, object_id) for kind, object_id in seen])


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
