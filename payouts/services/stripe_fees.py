"""Stripe's processing fees, recorded in batches.

A charge is recorded in the ledger from its signed ``charge.succeeded``, which names the
charge's balance transaction (``txn_``) but does not carry Stripe's processing fee, which is on
that balance transaction. Instead of one read per charge, the handler remembers the balance
transaction (``stripe_fee_expect``, one INSERT, no request) and the fees are recorded together
(``stripe_fees_record``): one ``GET /v1/balance_transactions`` list request, filtered by type and
by a window of creation times around the charges, for up to 100 of them.

When: in a task (``payouts.record_stripe_fees``) that the event drain queues after each batch
that expected a fee in this process (an after-batch hook, ``record_expected_fees``: a
process-local flag set by ``stripe_fee_expect``, so a batch that expected none costs nothing),
every few minutes for what is left (the ``payouts.record_stripe_fees`` beat
task: another process's rows, Stripe unreachable earlier), and at the start of reconciliation.
The fee's ledger transaction (kind ``stripe_fee``, keyed on the balance transaction) is the one
``charge_sync`` records from an expanded balance transaction: whichever comes first records it,
the other finds it recorded (``ledger_record_many`` is idempotent).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from payouts.models import AwaitedStripeFee, LedgerTransaction
from payouts.services._common import _insert_new_rows, _ts
from payouts.services.ledger import LedgerMovement, ledger_record_many, movement_postings

if TYPE_CHECKING:
    from marketplace.stripe_gateway import GatewayError

logger = logging.getLogger(__name__)

# Awaited fees taken per transaction; more are taken by the next (same run).
CHUNK = 1000
# A charge's balance transaction is created when the charge is captured: at the charge's
# ``created`` for an automatic capture, later for a manual one. The awaited charges are cut into
# runs of close ``created`` (no gap over twice the slack); each run's balance transactions are
# listed in [first created - slack, last created + slack]. A balance transaction outside it (a
# capture long after the charge) is retrieved by id.
CREATED_SLACK_SECONDS = 60

# Set when this process expected a fee; the after-batch hook reads and clears it.
_expected = False


def _mark_expected() -> None:
    global _expected
    _expected = True


def stripe_fee_expect(
    *,
    charge_id: str,
    balance_transaction_id: str,
    currency: str,
    created: int,
    seller_id: int | None,
    order_id: int | None,
) -> None:
    """Within the caller's transaction: remember that this charge's Stripe processing fee is on
    balance transaction ``balance_transaction_id`` (``created``: the charge's, unix seconds).
    No request. Idempotent: one ``INSERT ... ON CONFLICT DO NOTHING`` (unique on the balance
    transaction). This process then has fees to record (``record_expected_fees``)."""
    if not balance_transaction_id:
        raise ValueError("a Stripe fee is awaited on a balance transaction: its id is needed")
    from django.db import connection

    _insert_new_rows(
        table=AwaitedStripeFee._meta.db_table,
        columns=[
            "charge_id",
            "balance_transaction_id",
            "currency",
            "created",
            "seller_id",
            "order_id",
            "awaited_at",
        ],
        rows=[
            [
                charge_id,
                balance_transaction_id,
                currency.lower(),
                int(created),
                seller_id,
                order_id,
                connection.ops.adapt_datetimefield_value(timezone.now()),
            ]
        ],
        unique=["balance_transaction_id"],
        returning=["id"],
    )
    # Set now, not on commit: the hook runs after the batch's transaction ends anyway, and a
    # caller's outer transaction (a test's, a management command's) may never commit while its
    # drain still sees its own rows. A batch rolled back costs the hook one look-up.
    _mark_expected()


def record_expected_fees() -> None:
    """The event drain's after-batch hook (``registry.after_batch``): when this process expected
    fees since the last time, queue one ``payouts.record_stripe_fees`` task to record them
    (``stripe_fees_record``); nothing at all otherwise.

    Queued, not run in the drain: the drain goes on to its next batch without waiting for
    Stripe's answers (a slow Stripe holds no event back), and a worker records the fees a moment
    later. Without a broker the task runs here and now."""
    global _expected
    if not _expected:
        return
    _expected = False
    from payouts import tasks

    tasks.record_stripe_fees.delay()


def stripe_fees_awaited_count() -> int:
    """How many fees are awaited (expected, not yet recorded)."""
    return AwaitedStripeFee.objects.count()


def stripe_fees_record() -> int:
    """Record the awaited fees; returns how many STRIPE_FEE ledger transactions are new.

    Per chunk of up to 1,000 awaited rows (oldest first), in one transaction holding their rows
    (``select_for_update(skip_locked=True)``: two workers never take the same rows): the rows
    whose fee is recorded already (an expanded read of the charge came first) are deleted
    without a request; the others are cut into runs of close creation times, and for each run
    the platform's balance transactions of the charges' type (``charge``; ``payment`` for a
    ``py_`` charge) created in its window are listed, 100 a page, only until every awaited one is
    met: one request per 100 charges when the window holds only theirs. One the list did not
    return is retrieved by id. Each fee is recorded (``ledger_record_many``: 2 statements for
    the chunk) when it is above 0 and in the charge's currency (a converted fee stays with
    reconciliation, as in ``charge_sync``), and the rows done are deleted (1 statement).

    Stripe unreachable (``GatewayError``): logged, the rows not done are kept for the next run,
    and what was read before is recorded. A balance transaction Stripe does not know (404):
    logged as an error and its row deleted (reconciliation reports a fee Stripe lists but the
    ledger lacks)."""
    recorded = 0
    while True:
        with transaction.atomic():
            rows = list(
                AwaitedStripeFee.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("seller")
                .annotate(
                    done=Exists(
                        LedgerTransaction.objects.filter(
                            kind=LedgerTransaction.Kind.STRIPE_FEE,
                            stripe_object_id=OuterRef("balance_transaction_id"),
                        )
                    )
                )
                .order_by("created", "id")[:CHUNK]
            )
            if not rows:
                return recorded
            pending = [row for row in rows if not row.done]
            found, gone, failure = _read_balance_transactions(pending)
            recorded += _record(pending, found)
            finished = [
                row.pk
                for row in rows
                if row.done or row.balance_transaction_id in found or row.pk in gone
            ]
            if finished:
                AwaitedStripeFee.objects.filter(pk__in=finished).delete()
        if failure is not None:
            logger.warning(
                "Stripe fees: %d awaited fees kept for the next run: %s",
                len(rows) - len(finished),
                failure.message,
            )
            return recorded
        if len(rows) < CHUNK:
            return recorded


def _list_type(charge_id: str) -> str:
    """The type of a charge's balance transaction (Stripe's docs, "Balance transaction types"):
    ``charge`` for a card charge, ``payment`` for a local payment method's (a ``py_`` charge)."""
    return "payment" if charge_id.startswith("py_") else "charge"


def _close_in_time(rows: list[AwaitedStripeFee]) -> list[list[AwaitedStripeFee]]:
    """``rows`` (by ``created``) cut where two are more than twice the slack apart: a charge
    awaited since an outage and today's are listed in two small windows, not one of hours."""
    runs: list[list[AwaitedStripeFee]] = []
    for row in sorted(rows, key=lambda r: r.created):
        if runs and row.created - runs[-1][-1].created <= 2 * CREATED_SLACK_SECONDS:
            runs[-1].append(row)
        else:
            runs.append([row])
    return runs


def _read_balance_transactions(
    pending: Sequence[AwaitedStripeFee],
) -> tuple[dict[str, dict[str, Any]], set[int], GatewayError | None]:
    """The balance transactions of ``pending`` rows by id, the rows Stripe has no balance
    transaction for (ids), and the ``GatewayError`` that stopped the reading (or None)."""
    from marketplace import stripe_gateway as gw

    found: dict[str, dict[str, Any]] = {}
    gone: set[int] = set()
    by_type: dict[str, list[AwaitedStripeFee]] = {}
    for row in pending:
        by_type.setdefault(_list_type(row.charge_id), []).append(row)
    try:
        for bt_type, of_type in sorted(by_type.items()):
            for rows in _close_in_time(of_type):
                wanted = {row.balance_transaction_id for row in rows}
                stream = gw.balance_transactions_iter(
                    created_gte=rows[0].created - CREATED_SLACK_SECONDS,
                    created_lt=rows[-1].created + CREATED_SLACK_SECONDS + 1,
                    type=bt_type,
                )
                for bt in stream:  # newest first, 100 a page: stop once all are met
                    bt_id = str(bt.get("id") or "")
                    if bt_id in wanted:
                        found[bt_id] = bt
                        wanted.discard(bt_id)
                        if not wanted:
                            break
        for row in pending:
            if row.balance_transaction_id in found:
                continue
            try:
                found[row.balance_transaction_id] = gw.balance_transaction_retrieve(
                    balance_transaction_id=row.balance_transaction_id
                )
            except gw.GatewayError as exc:
                if exc.http_status != 404:
                    raise
                logger.error(
                    "Stripe fee of charge %s: no balance transaction %s at Stripe (%s)",
                    row.charge_id,
                    row.balance_transaction_id,
                    exc.message,
                )
                gone.add(row.pk)
    except gw.GatewayError as exc:
        return found, gone, exc
    return found, gone, None


def _record(pending: Iterable[AwaitedStripeFee], found: dict[str, dict[str, Any]]) -> int:
    """The STRIPE_FEE ledger transactions of the rows whose balance transaction was read, as
    ``charge_sync`` records them from an expanded one; returns how many are new."""
    K = LedgerTransaction.Kind
    movements: list[LedgerMovement] = []
    for row in pending:
        bt = found.get(row.balance_transaction_id)
        if bt is None:
            continue
        fee = int(bt.get("fee") or 0)
        currency = str(bt.get("currency") or "").lower()
        if fee <= 0 or currency != row.currency:
            if fee > 0:
                logger.info(
                    "Stripe fee of charge %s settled in %s, not %s: left to reconciliation",
                    row.charge_id,
                    currency,
                    row.currency,
                )
            continue
        movements.append(
            LedgerMovement(
                kind=K.STRIPE_FEE,
                stripe_object_id=row.balance_transaction_id,
                postings=movement_postings(kind=K.STRIPE_FEE, amount=fee, currency=currency),
                seller=row.seller,
                order_id=row.order_id,
                charge_id=row.charge_id,
                occurred_at=_ts(bt.get("created")) or _ts(row.created),
                description=f"{K.STRIPE_FEE} of charge {row.charge_id}",
            )
        )
    return sum(ledger_record_many(movements))
