"""Reconciliation: every Stripe movement has its ledger transaction, and every ledger
transaction its Stripe movement (design section 4, invariant 7).

Streams Stripe's balance transactions page by page (the gateway's iterator fetches 100 at a
time), checks each batch against the ledger with one query, and keeps the sources met as scratch
rows, so memory stays flat in the number of transactions.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from django.db.models import Exists, OuterRef
from django.utils import timezone

from marketplace import stripe_gateway
from payouts.models import LedgerTransaction, ReconciliationRun, ReconciliationSeen
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


def _plain(obj: Any) -> dict[str, Any]:
    return obj if isinstance(obj, dict) else dict(obj.to_dict())


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
    *, start: datetime, end: datetime, accounts: Iterable[str] | None = None
) -> ReconciliationRun:
    """Compare Stripe's balance transactions created in [start, end) with the ledger.

    ``accounts``: connected accounts to read (default: every seller's). Side effects: a
    ReconciliationRun row with counts and the first issues; scratch rows removed at the end.
    Raises ``GatewayError`` (kept on the run as failed) when Stripe cannot be read.
    """
    run = ReconciliationRun.objects.create(period_start=start, period_end=end)
    issues: list[str] = []

    def issue(line: str) -> None:
        if len(issues) < MAX_ISSUES_KEPT:
            issues.append(line)

    connected: Iterable[Any] = (
        accounts
        if accounts is not None
        else Seller.objects.exclude(stripe_account_id__isnull=True)
        .exclude(stripe_account_id="")
        .values_list("stripe_account_id", flat=True)
        .iterator()
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
        seen = ReconciliationSeen.objects.filter(
            run=run, kind=OuterRef("kind"), stripe_object_id=OuterRef("stripe_object_id")
        )
        orphans = (
            LedgerTransaction.objects.filter(
                occurred_at__gte=start, occurred_at__lt=end, kind__in=RECONCILED_KINDS
            )
            .exclude(Exists(seen))
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
            if run.missing_in_ledger or run.missing_in_stripe or run.unreadable_accounts
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
        for raw in batch:
            bt = _plain(raw)
            run.stripe_transactions += 1
            kind = expected_kind(bt, connected=account is not None)
            if kind is not None:
                wanted.append((kind, str(bt["source"]), bt))
        if not wanted:
            continue
        sources = {source for _, source, _ in wanted}
        known = set(
            LedgerTransaction.objects.filter(stripe_object_id__in=sources).values_list(
                "kind", "stripe_object_id"
            )
        )
        for kind, source, bt in wanted:
            if (kind, source) not in known:
                run.missing_in_ledger += 1
                where = f" on {account}" if account else ""
                issue(
                    f"Stripe {bt.get('type')} {source}{where} ({bt.get('amount')} "
                    f"{str(bt.get('currency', '')).upper()}, {bt.get('id')}) has no "
                    f"ledger {kind} transaction"
                )
        ReconciliationSeen.objects.bulk_create(
            ReconciliationSeen(run=run, kind=kind, stripe_object_id=source)
            for kind, source, _ in wanted
        )
