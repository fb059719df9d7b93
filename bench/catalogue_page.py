"""Catalogue page cost against a raw page SELECT, both served by Django in the same run.

Workload: 1,000 listings (50 shops, 12 categories), anonymous GET / (page 1, newest first) and
GET /?sort=price_asc&cursor=... (a deep page), through Django's WSGI handler with the full
middleware stack (what gunicorn calls, minus the socket; the test client would add its own
signal-recording overhead to every page). Baseline, interleaved with the pages: a bench-only view that runs the raw SQL
of the same 24-row page (``cursor.execute``, no models, no template) and returns the rows as
text; and the bare SELECT of those rows alone (no request at all). Ratio = page time / baseline
time per round; rounds' min / median / max are printed.
Target: the catalogue page costs <= 5x the bare SELECT of its rows. Warm caches (what a live server has):
the first requests of each round are not counted.
"""

from __future__ import annotations

import io
import statistics
import sys
from typing import Any

ROUNDS = 7
RUNS = 60
LISTINGS = 1_000


class _Client:
    """GET through a WSGI application, reading the whole body, as a WSGI server would."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def get(self, url: str) -> str:
        path, _, query = url.partition("?")
        environ = {
            "REQUEST_METHOD": "GET",
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "SERVER_NAME": "testserver",
            "SERVER_PORT": "80",
            "HTTP_HOST": "testserver",
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(b""),
            "wsgi.errors": sys.stderr,
        }
        status: list[str] = []
        body = self.app(environ, lambda s, headers, exc_info=None: status.append(s))
        try:
            b"".join(body)
        finally:
            getattr(body, "close", lambda: None)()
        return status[0]


def main(argv: list[str] | None = None) -> int:
    """Runs in its own process: it sets Django up on a throw-away database of its own."""
    import subprocess

    return subprocess.call([sys.executable, "-m", "bench.catalogue_page", *(argv or [])])


def run() -> int:
    from bench._django import setup

    where = setup("catalogue_page")
    from django.conf import settings
    from django.core.handlers.wsgi import WSGIHandler
    from django.db import connection
    from django.urls import clear_url_caches

    from bench._page_rounds import interleaved_rounds
    from bench.catalogue import deep_cursor, seed
    from bench.catalogue_urls import raw_sql
    from buyers import selectors

    settings.ROOT_URLCONF = "bench.catalogue_urls"
    clear_url_caches()
    seed(LISTINGS)
    client = _Client(WSGIHandler())
    cursor = deep_cursor("price_asc")
    pages = {"page 1": "/", "deep page": f"/?sort=price_asc&cursor={cursor}"}
    raws = {"page 1": "/bench/raw-page/", "deep page": f"/bench/raw-page/?cursor={cursor}"}
    for url in (*pages.values(), *raws.values()):
        status = client.get(url)
        assert status.startswith("200"), (url, status)
    page1 = selectors.catalogue_page(query=selectors.CatalogueQuery())
    print(
        f"database: {where}; {LISTINGS} listings, page size {selectors.PAGE_SIZE}; "
        f"{ROUNDS} rounds of {RUNS} interleaved requests (page, raw SELECT view), anonymous"
    )
    assert len(page1.listings) == selectors.PAGE_SIZE
    print(
        f"{'page':>10} {'queries':>8} {'page ms':>8} {'view ms':>8} {'SELECT ms':>9} "
        f"{'page/raw view min/med/max':>26} {'page/SELECT min/med/max':>25}"
    )
    ok = True
    for name, url in pages.items():
        raw_url = raws[name]
        queries = [0]

        def count(execute, sql, params, many, context, queries=queries):  # type: ignore[no-untyped-def]
            queries[0] += 1
            return execute(sql, params, many, context)

        with connection.execute_wrapper(count):
            client.get(url)
        sql, params = raw_sql(raw_url)

        def bare(sql: str = sql, params: Any = params) -> None:
            with connection.cursor() as db:
                db.execute(sql, params)
                db.fetchall()

        ratios, page_ms, raw_ms, sel_ms, sel_ratios = interleaved_rounds(
            client, url, raw_url, bare, rounds=ROUNDS, runs=RUNS
        )
        print(
            f"{name:>10} {queries[0]:>8} {statistics.median(page_ms):>8.2f} "
            f"{statistics.median(raw_ms):>8.2f} {statistics.median(sel_ms):>9.2f} "
            f"{f'{ratios[0]:.2f} / {statistics.median(ratios):.2f} / {ratios[-1]:.2f}':>26} "
            f"{f'{sel_ratios[0]:.1f} / {statistics.median(sel_ratios):.1f} / {sel_ratios[-1]:.1f}':>25}"
        )
        ok = ok and statistics.median(sel_ratios) <= 5
    print("target: page <= 5x the bare SELECT (median of rounds):", "met" if ok else "NOT met")
    return 0


if __name__ == "__main__":
    raise SystemExit(run())
