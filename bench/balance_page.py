"""Seller balance page with 100k and 1M ledger entries for that seller.

Workload: one seller; payout-like ledger transactions (two seller legs each) bulk-inserted until
the seller has 100,000 entries, then 1,000,000. At each size, GET /money/balance/ (logged in) is
timed REQUESTS times; queries per request are counted. The baseline is the 100k run in the same
process; the claim is p99(1M) within 1.2x of p99(100k) and at most 4 queries. For contrast, the
cost of summing the seller's entries per request (what the page does NOT do) is measured too.

Env: BENCH_DATABASE_URL (PostgreSQL) or a throw-away SQLite file; BENCH_REQUESTS (default 300).
"""

from __future__ import annotations

import os
import statistics
import time

from bench._django import setup

REQUESTS = int(os.environ.get("BENCH_REQUESTS", "300"))
SIZES = [100_000, 1_000_000]
BATCH = 20_000


def fill(seller_id: int, start: int, stop: int) -> None:
    """Insert payout-like transactions (2 seller entries each) numbered start..stop-1, and keep
    the pre-aggregated balance in step, as ledger_record would."""
    from django.db import connection, transaction
    from django.utils import timezone

    from payouts.models import SellerBalance

    now = timezone.now()
    balance_account, payouts_account = f"seller:{seller_id}:balance", f"seller:{seller_id}:payouts"
    qn = connection.ops.quote_name
    for lo in range(start, stop, BATCH):
        hi = min(lo + BATCH, stop)
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT COALESCE(MAX(id), 0) FROM payouts_ledgertransaction")
            (last_id,) = cursor.fetchone()
            cursor.executemany(
                "INSERT INTO payouts_ledgertransaction (kind, stripe_object_id, seller_id, "
                "order_id, charge_id, description, occurred_at, recorded_at) "
                "VALUES (%s, %s, %s, NULL, '', '', %s, %s)",
                [("payout", f"po_bench{i}", seller_id, now, now) for i in range(lo, hi)],
            )
            cursor.execute(
                "SELECT id FROM payouts_ledgertransaction WHERE id > %s ORDER BY id", [last_id]
            )
            ids = [row[0] for row in cursor.fetchall()]
            rows = []
            for txn_id in ids:
                rows.append((txn_id, balance_account, seller_id, -100, "eur", now))
                rows.append((txn_id, payouts_account, seller_id, 100, "eur", now))
            cursor.executemany(
                f"INSERT INTO payouts_ledgerentry (transaction_id, account, seller_id, amount, "
                f"currency, {qn('created_at')}) VALUES (%s, %s, %s, %s, %s, %s)",
                rows,
            )
    n_txn = stop
    SellerBalance.objects.update_or_create(
        seller_id=seller_id,
        defaults={
            "ledger": {"eur": -100 * n_txn},
            "paid_out": {"eur": 100 * n_txn},
            "entry_count": 2 * n_txn,
        },
    )


def measure(client) -> tuple[list[float], int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.get("/money/balance/")  # warm up
    times = []
    queries = 0
    for _ in range(REQUESTS):
        with CaptureQueriesContext(connection) as captured:
            t0 = time.perf_counter()
            response = client.get("/money/balance/")
            times.append(time.perf_counter() - t0)
        assert response.status_code == 200, response.status_code
        queries = max(queries, len(captured))
    return times, queries


def naive_sum(seller_id: int) -> float:
    """What summing the seller's entries per request would cost (one aggregate query)."""
    from django.db.models import Sum

    from payouts.models import LedgerEntry

    t0 = time.perf_counter()
    for _ in range(3):
        list(
            LedgerEntry.objects.filter(seller_id=seller_id)
            .values("account", "currency")
            .annotate(total=Sum("amount"))
        )
    return (time.perf_counter() - t0) / 3


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main(argv: list[str] | None = None) -> int:
    where = setup("balance")
    from django.test import Client

    from bench._fixtures import new_seller, new_user

    user = new_user()
    seller = new_seller(user=user)
    client = Client()
    client.force_login(user)
    print(f"database: {where}; requests per size: {REQUESTS}")
    results = {}
    done = 0
    for size in SIZES:
        t0 = time.perf_counter()
        fill(seller.pk, done, size // 2)
        done = size // 2
        print(f"  filled to {size:,} entries in {time.perf_counter() - t0:.1f} s", flush=True)
        times, queries = measure(client)
        naive = naive_sum(seller.pk)
        results[size] = (pct(times, 0.99), queries)
        print(
            f"  {size:>9,} entries: p50 {statistics.median(times) * 1000:.2f} ms, "
            f"p99 {pct(times, 0.99) * 1000:.2f} ms, {queries} queries; "
            f"(summing the entries per request instead: {naive * 1000:.1f} ms)",
            flush=True,
        )
    base, big = results[SIZES[0]][0], results[SIZES[1]][0]
    ratio = big / base
    worst_queries = max(q for _, q in results.values())
    ok = ratio <= 1.2 and worst_queries <= 4
    print(
        f"ratio p99(1M) / p99(100k) = {ratio:.2f} (target <= 1.20); "
        f"queries <= {worst_queries} (target <= 4): {'OK' if ok else 'MISSED'}"
    )
    return 0 if ok else 1
