"""Reconciliation of N balance transactions from the sandbox (default N = 10,000 and 50,000).

Workload: N platform balance transactions (type ``charge``) stored in the sandbox, each with its
ledger transactions on our side (the charge and Stripe's processing fee, two entries each), all
in one day; ``reconcile`` pages through them with the SDK (100 per request) and checks them
against the ledger. Baseline, measured in the same run in interleaved rounds: a bare bulk insert
of the same N rows (the sandbox's own ``BalanceEntry`` rows, ``bulk_create``, rolled back).

Reported per N, min/median/max over the rounds (``--rounds``, default 3):

- end to end: rows/s of ``reconcile`` and its ratio to the bare insert;
- our side: the same with the sandbox's own serving time taken out (the time spent in
  ``sandbox.dispatcher.handle``, which stands in for Stripe's servers: with real Stripe that is
  their time, not ours); what is left is the SDK's requests and parsing and our database work;
- the sandbox's milliseconds per page of 100, our statements per 1,000 rows (queries counted by
  Django plus the ``COPY``s of scratch rows);
- peak Python memory of one more reconciliation under tracemalloc (flat in N is the claim; the
  timed rounds run without tracemalloc, whose overhead would swamp the Python-side costs).

``python -m bench reconciliation -- 10000 1000000 --rounds 1`` picks other sizes;
``BENCH_DATABASE_URL`` runs it on PostgreSQL instead of a temporary SQLite file. Figures before
and after the set-based rewrite are in docs/operations.md ("Benchmarks").
"""

from __future__ import annotations

import statistics
import time
import tracemalloc
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from bench._django import setup

BATCH = 10_000
DAY = datetime(2026, 6, 1, tzinfo=UTC)


def _rows(lo: int, hi: int, base: int):
    from sandbox.ledger_models import BalanceEntry
    from sandbox.models import SandboxObject

    objects, entries = [], []
    for i in range(lo, hi):
        txn_id, created = f"txn_bench{i:09d}", base + i % 80_000
        data = {
            "id": txn_id,
            "object": "balance_transaction",
            "amount": 1000,
            "available_on": created,
            "balance_type": "payments",
            "created": created,
            "currency": "eur",
            "description": None,
            "exchange_rate": None,
            "fee": 59,
            "fee_details": [],
            "net": 941,
            "reporting_category": "charge",
            "source": f"ch_bench{i:09d}",
            "status": "available",
            "type": "charge",
        }
        objects.append(
            SandboxObject(
                id=txn_id,
                object="balance_transaction",
                account="",
                created=created,
                seq=i,
                data=data,
            )
        )
        entries.append(
            BalanceEntry(
                id=txn_id,
                account="",
                currency="eur",
                type="charge",
                amount=1000,
                fee=59,
                net=941,
                created=created,
                seq=i,
                available_on=created,
                status="available",
                source=f"ch_bench{i:09d}",
            )
        )
    return objects, entries


def fill(lo: int, hi: int) -> None:
    """Store transactions lo..hi-1 in the sandbox and the ledger."""
    from django.db import connection, transaction

    from sandbox.ledger_models import BalanceEntry
    from sandbox.models import SandboxObject

    base = int(DAY.timestamp()) + 3600
    at = DAY + timedelta(hours=2)
    for start in range(lo, hi, BATCH):
        stop = min(start + BATCH, hi)
        objects, entries = _rows(start, stop, base)
        with transaction.atomic():
            SandboxObject.objects.bulk_create(objects)
            BalanceEntry.objects.bulk_create(entries)
            with connection.cursor() as cursor:
                # Our side, as ledger_sync_charge writes it: per balance transaction, the charge
                # and Stripe's processing fee, each a transaction with two entries (ids set
                # here, the bench database being fresh, so entries can point at them).
                cursor.executemany(
                    "INSERT INTO payouts_ledgertransaction (id, kind, stripe_object_id, "
                    "seller_id, order_id, charge_id, description, occurred_at, recorded_at) "
                    "VALUES (%s, %s, %s, NULL, NULL, %s, '', %s, %s)",
                    [
                        row
                        for i in range(start, stop)
                        for row in (
                            (2 * i + 1, "charge", f"ch_bench{i:09d}", f"ch_bench{i:09d}", at, DAY),
                            (
                                2 * i + 2,
                                "stripe_fee",
                                f"txn_bench{i:09d}",
                                f"ch_bench{i:09d}",
                                at,
                                DAY,
                            ),
                        )
                    ],
                )
                cursor.executemany(
                    "INSERT INTO payouts_ledgerentry (transaction_id, account, seller_id, amount, "
                    "currency, created_at) VALUES (%s, %s, NULL, %s, 'eur', %s)",
                    [
                        row
                        for i in range(start, stop)
                        for row in (
                            (2 * i + 1, "buyer:payments", -1000, DAY),
                            (2 * i + 1, "platform:stripe_balance", 1000, DAY),
                            (2 * i + 2, "platform:stripe_balance", -59, DAY),
                            (2 * i + 2, "stripe:fees", 59, DAY),
                        )
                    ],
                )


def bare_insert(n: int) -> float:
    """Seconds of a bare ``bulk_create`` of n BalanceEntry rows like the sandbox's (the
    baseline); the rows go to another account and are rolled back, so rounds can repeat."""
    from django.db import transaction

    from sandbox.ledger_models import BalanceEntry

    base = int(DAY.timestamp()) + 3600
    seconds = 0.0
    with transaction.atomic():
        for start in range(0, n, BATCH):
            _, entries = _rows(start, min(start + BATCH, n), base)
            for entry in entries:
                entry.id = "txn_bare" + entry.id[8:]
                entry.account = "acct_bare"
            t0 = time.perf_counter()
            BalanceEntry.objects.bulk_create(entries)
            seconds += time.perf_counter() - t0
        transaction.set_rollback(True)
    return seconds


class Meter:
    """Time inside the sandbox's request handler, and our statements outside it."""

    def __init__(self) -> None:
        self.sandbox = 0.0
        self.requests = 0
        self.statements = 0
        self._inside = False

    @contextmanager
    def measuring(self):  # type: ignore[no-untyped-def]
        from django.db import connection

        import payouts.reconciliation as recon
        import sandbox.dispatcher as dispatcher

        handle, write = dispatcher.handle, recon._Scratch.write

        def timed_handle(*args, **kwargs):  # type: ignore[no-untyped-def]
            t0 = time.perf_counter()
            self._inside = True
            try:
                return handle(*args, **kwargs)
            finally:
                self._inside = False
                self.sandbox += time.perf_counter() - t0
                self.requests += 1

        def counted_write(scratch, rows):  # type: ignore[no-untyped-def]
            if rows and connection.vendor == "postgresql":
                self.statements += 1  # the COPY, which Django's wrappers do not see
            return write(scratch, rows)

        def count(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
            if not self._inside:
                self.statements += len(params) if many and params else 1
            return execute(sql, params, many, context)

        dispatcher.handle, recon._Scratch.write = timed_handle, counted_write  # type: ignore[method-assign]
        try:
            with connection.execute_wrapper(count):
                yield self
        finally:
            dispatcher.handle, recon._Scratch.write = handle, write  # type: ignore[method-assign]


def _spread(values: list[float], fmt: str = "{:,.0f}") -> str:
    return "/".join(fmt.format(v) for v in (min(values), statistics.median(values), max(values)))


def main(argv: list[str] | None = None) -> int:
    argv = list(argv or [])
    rounds = 3
    if "--rounds" in argv:
        rounds = int(argv[argv.index("--rounds") + 1])
        del argv[argv.index("--rounds") : argv.index("--rounds") + 2]
    sizes = [int(a) for a in argv if a.isdigit()] or [10_000, 50_000]
    where = setup("reconciliation")
    import logging

    logging.getLogger("stripe").setLevel(logging.WARNING)  # one INFO line per request otherwise
    from marketplace import stripe_gateway
    from payouts.reconciliation import reconcile

    stripe_gateway.reset_client()
    print(f"database: {where}; sizes: {', '.join(f'{n:,}' for n in sizes)}; {rounds} rounds")
    print("  (min/median/max; ratio = rows/s against the bare bulk insert in the same round)")
    done, peaks = 0, []
    for n in sizes:
        fill(done, n)
        done = n
        e2e, ours, bare_rates, e2e_ratio, ours_ratio, page_ms, per_k = [], [], [], [], [], [], []
        for _ in range(rounds):
            bare_rate = n / bare_insert(n)
            meter = Meter()
            with meter.measuring():
                t0 = time.perf_counter()
                run = reconcile(start=DAY, end=DAY + timedelta(days=1), accounts=[])
                seconds = time.perf_counter() - t0
            assert run.stripe_transactions == n, (run.stripe_transactions, n)
            assert run.status == "clean", run.issues[:5]
            bare_rates.append(bare_rate)
            e2e.append(n / seconds)
            ours.append(n / (seconds - meter.sandbox))
            e2e_ratio.append(e2e[-1] / bare_rate)
            ours_ratio.append(ours[-1] / bare_rate)
            page_ms.append(1000 * meter.sandbox / max(meter.requests, 1))
            per_k.append(1000 * meter.statements / n)
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        reconcile(start=DAY, end=DAY + timedelta(days=1), accounts=[])
        peak = tracemalloc.get_traced_memory()[1] - before
        tracemalloc.stop()
        peaks.append((n, peak))
        print(f"  {n:>9,} transactions:", flush=True)
        print(f"    bare bulk insert         {_spread(bare_rates)} rows/s")
        print(
            f"    end to end               {_spread(e2e)} rows/s, "
            f"ratio {_spread(e2e_ratio, '{:.2f}')}"
        )
        print(
            f"    our side (no sandbox)    {_spread(ours)} rows/s, "
            f"ratio {_spread(ours_ratio, '{:.2f}')}"
        )
        print(
            f"    sandbox per page of 100  {_spread(page_ms, '{:.1f}')} ms; our statements per "
            f"1,000 rows {_spread(per_k, '{:.1f}')}; peak memory {peak / 1e6:.1f} MB",
            flush=True,
        )
    if len(peaks) > 1:
        growth = peaks[-1][1] / max(peaks[0][1], 1)
        flat = growth <= 1.5
        print(
            f"peak memory {peaks[-1][0]:,} vs {peaks[0][0]:,}: x{growth:.2f} "
            f"({'flat' if flat else 'NOT flat'} in N)"
        )
        return 0 if flat else 1
    return 0
