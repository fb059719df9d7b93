"""Catalogue pages with 1k, 10k and 100k listings: queries per page, p99 latency, deep/first ratio.

Workload: GET / (newest first) and GET /?sort=price_asc, page 1 and a page ~90 % deep (its keyset
cursor), through Django's test client, anonymous. Baseline measured in the same run: page 1 of the
same catalogue; target: deep page p99 <= 1.5 x page 1 p99, queries per page constant and <= 5.
For contrast, the same deep page by OFFSET is timed too (the query alone).
"""

from __future__ import annotations

import statistics
import time
from datetime import timedelta

SIZES = (1_000, 10_000, 100_000)
RUNS = 120
ROUNDS = 3


def p99(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def seed(total: int) -> None:
    from django.utils import timezone

    from bench._fixtures import new_user
    from sellers.models import Category, Listing, Seller

    have = Listing.objects.count()
    if have >= total:
        return
    if not Seller.objects.exists():
        categories = [
            Category.objects.create(name=f"Category {i}", slug=f"category-{i}") for i in range(12)
        ]
        for i in range(50):
            Seller.objects.create(
                user=new_user(),
                display_name=f"Shop {i}",
                slug=f"shop-{i}",
                country="FR",
                stripe_account_id=f"acct_bench{i:06d}",
                charges_enabled=True,
            )
    categories = list(Category.objects.all())
    sellers = list(Seller.objects.all())
    created_at = Listing._meta.get_field("created_at")
    created_at.auto_now_add = False  # type: ignore[attr-defined]
    start = timezone.now() - timedelta(days=400)
    batch = []
    for i in range(have, total):
        batch.append(
            Listing(
                seller=sellers[i % len(sellers)],
                category=categories[i % len(categories)],
                title=f"Listing {i} {('mug', 'bowl', 'vase', 'plate')[i % 4]}",
                description="Handmade, small batch.",
                price_amount=100 + (i * 7919) % 50_000,
                currency="eur",
                stock=None if i % 3 else 10,
                status=Listing.Status.PUBLISHED if i % 10 else Listing.Status.DRAFT,
                created_at=start + timedelta(seconds=i * 30),
            )
        )
        if len(batch) == 5_000:
            Listing.objects.bulk_create(batch)
            batch = []
    if batch:
        Listing.objects.bulk_create(batch)
    created_at.auto_now_add = True  # type: ignore[attr-defined]
    # Fresh planner statistics, as autovacuum (PostgreSQL) would have after a bulk load; without
    # them PostgreSQL guesses one row per seller and scans every listing to sort them.
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def deep_cursor(sort: str) -> str:
    from buyers import selectors

    _, field, descending = selectors.SORTS[sort]
    qs = selectors.catalogue_listings().order_by(
        *([f"-{field}", "-pk"] if descending else [field, "pk"])
    )
    total = qs.count()
    row = qs[int(total * 0.9)]  # once, to find the deep page's cursor
    return selectors.encode_cursor(sort, selectors.CardListing.from_row(row))


def query_count(client, url: str) -> int:
    from django.core.cache import cache
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    cache.clear()  # count the cold page: filter choices not cached
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return len(ctx.captured_queries)


def measure_pair(client, first_url: str, deep_url: str) -> tuple[list[float], list[float]]:
    """Interleaved timings, so that noise from other processes hits both pages alike."""
    for _ in range(5):
        client.get(first_url)
        client.get(deep_url)
    first, deep = [], []
    for _ in range(RUNS):
        for url, samples in ((first_url, first), (deep_url, deep)):
            t0 = time.perf_counter()
            client.get(url)
            samples.append(time.perf_counter() - t0)
    return first, deep


def offset_query_time(sort: str, offset: int) -> float:
    from buyers import selectors

    _, field, descending = selectors.SORTS[sort]
    qs = selectors.catalogue_listings().order_by(
        *([f"-{field}", "-pk"] if descending else [field, "pk"])
    )
    samples = []
    for _ in range(30):
        t0 = time.perf_counter()
        list(qs[offset : offset + selectors.PAGE_SIZE + 1])
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples)


def keyset_query_time(sort: str, cursor: str) -> float:
    from buyers import selectors

    samples = []
    for _ in range(30):
        t0 = time.perf_counter()
        selectors.catalogue_page(query=selectors.CatalogueQuery(sort=sort, cursor=cursor))
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples)


def main(argv: list[str] | None = None) -> int:
    """Runs in its own process: it sets Django up on a throw-away database of its own."""
    import subprocess
    import sys

    return subprocess.call([sys.executable, "-m", "bench.catalogue", *(argv or [])])


def run() -> int:
    from bench._django import setup

    where = setup("catalogue")
    from django.test import Client

    client = Client()
    print(
        f"database: {where}; {ROUNDS} rounds of {RUNS} interleaved requests per page "
        "(best round's p99 kept), anonymous, page size 24"
    )
    print(
        f"{'listings':>9} {'sort':>10} {'queries p1/deep':>16} {'p99 page1 ms':>13} "
        f"{'p99 deep ms':>12} {'deep/page1 p99':>15} {'median':>7} {'OFFSET/keyset query':>20}"
    )
    ok = True
    for size in SIZES:
        seed(size)
        for sort in ("newest", "price_asc"):
            cursor = deep_cursor(sort)
            first_url, deep_url = f"/?sort={sort}", f"/?sort={sort}&cursor={cursor}"
            q1, qd = query_count(client, first_url), query_count(client, deep_url)
            # Three rounds; each page's best p99 of the three, so that a burst of load from
            # other processes on the machine does not decide the ratio.
            rounds = [measure_pair(client, first_url, deep_url) for _ in range(ROUNDS)]
            first = min((r[0] for r in rounds), key=p99)
            deep = min((r[1] for r in rounds), key=p99)
            ratio = p99(deep) / p99(first)
            offset = int(size * 0.9 * 0.9)  # ~90 % of the published listings
            contrast = offset_query_time(sort, offset) / keyset_query_time(sort, cursor)
            print(
                f"{size:>9} {sort:>10} {f'{q1}/{qd}':>16} {p99(first) * 1000:>13.2f} "
                f"{p99(deep) * 1000:>12.2f} {ratio:>15.2f} "
                f"{statistics.median(deep) / statistics.median(first):>7.2f} {contrast:>19.1f}x"
            )
            ok = ok and q1 == qd and q1 <= 5 and ratio <= 1.5
    print("target: queries constant and <= 5, deep/page1 <= 1.5:", "met" if ok else "NOT met")
    return 0


if __name__ == "__main__":
    raise SystemExit(run())
