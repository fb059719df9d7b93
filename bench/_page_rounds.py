"""The page benchmarks' client loop (catalogue_page, listing_page): a page, its raw SELECT view and
the bare SELECTs, requested in turn, round after round, so that all three see the same machine."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any, NamedTuple


class Rounds(NamedTuple):
    """Per round: the page's ratio to the raw view, the medians of each request (ms), and the
    page's ratio to the bare SELECTs; the ratios sorted (min first)."""

    ratios: list[float]
    page_ms: list[float]
    raw_ms: list[float]
    sel_ms: list[float]
    sel_ratios: list[float]


def interleaved_rounds(
    client: Any, url: str, raw_url: str, bare: Callable[[], None], *, rounds: int, runs: int
) -> Rounds:
    """``rounds`` rounds of 5 unmeasured warm-up requests of the page and of its raw view, then
    ``runs`` measured triples: GET ``url``, GET ``raw_url``, ``bare()`` (the SELECTs alone)."""
    out = Rounds([], [], [], [], [])
    for _ in range(rounds):
        for _ in range(5):
            client.get(url)
            client.get(raw_url)
        page_t, raw_t, sel_t = [], [], []
        for _ in range(runs):
            t0 = time.perf_counter()
            client.get(url)
            t1 = time.perf_counter()
            client.get(raw_url)
            t2 = time.perf_counter()
            bare()
            t3 = time.perf_counter()
            page_t.append(t1 - t0)
            raw_t.append(t2 - t1)
            sel_t.append(t3 - t2)
        p, r, q = (statistics.median(t) for t in (page_t, raw_t, sel_t))
        out.page_ms.append(p * 1000)
        out.raw_ms.append(r * 1000)
        out.sel_ms.append(q * 1000)
        out.ratios.append(p / r)
        out.sel_ratios.append(p / q)
    out.ratios.sort()
    out.sel_ratios.sort()
    return out
