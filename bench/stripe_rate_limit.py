"""1,000 events needing a Stripe read each, processed against a sandbox that enforces Stripe's
test-mode rate limit (25 requests/s, ``SANDBOX_RATE_LIMIT_PER_SECOND``): with the client-side
token bucket (``marketplace/stripe_traffic.py``) and without it, in the same run.

Events: ``account.updated`` for 10 connected accounts, each newer than the last (so none is
skipped as stale), processed by the real pipeline (``events_drain``) and the real handler. Their
``data.object`` names the account only (as a recovered or hand-made event may): the handler
applies a complete, newer account object as is, without a request, so a thin one is what
still makes it re-read the account from Stripe, once per event. Drained by ``--workers`` threads at once (default 1; with
more, batches of events for the same 10 sellers lock their rows in different orders and some
events fail on a deadlock, to be retried: a pipeline matter, not a rate-limit one).

Reported per mode: 429s Stripe answered, events succeeded and failed (to retry later), the time
and the requests/s achieved. Paced, the target is zero 429s and every event succeeded. Rounds
alternate the two modes (``--rounds``; min/median/max of the paced rate over rounds).
"""

from __future__ import annotations

import os
import statistics
import sys
import threading
import time
from typing import Any

EVENTS = 1000
ACCOUNTS = 10
LIMIT = 25


def main(argv: list[str] | None = None) -> int:
    import subprocess

    return subprocess.call([sys.executable, "-m", "bench.stripe_rate_limit", *(argv or [])])


def _arg(argv: list[str], name: str, default: int) -> int:
    return int(argv[argv.index(name) + 1]) if name in argv else default


def run(argv: list[str]) -> int:
    events = _arg(argv, "--events", EVENTS)
    rounds = _arg(argv, "--rounds", 1)
    os.environ["SANDBOX_RATE_LIMIT_PER_SECOND"] = str(LIMIT)
    from bench._django import setup

    where = setup("stripe_rate_limit")
    workers = _arg(argv, "--workers", 1)
    from datetime import UTC, datetime

    from django.conf import settings
    from django.db import connection

    from bench._fixtures import new_user, onboarded_account
    from marketplace import stripe_gateway, stripe_traffic
    from marketplace.events.models import StripeEvent
    from marketplace.events.services import events_drain
    from sellers.models import Seller

    accounts = [onboarded_account(name=f"Bench {i}") for i in range(ACCOUNTS)]
    for i, account in enumerate(accounts):
        Seller.objects.create(
            user=new_user(),
            display_name=f"Bench {i}",
            slug=f"bench-rl-{i}",
            country="FR",
            default_currency="eur",
            stripe_account_id=account,
            charges_enabled=True,
        )
    paced_rate = settings.STRIPE_RATE_LIMIT_PER_SECOND
    paced_burst = settings.STRIPE_RATE_LIMIT_BURST
    base = int(time.time())
    serial = [0]

    def store_events() -> None:
        rows = []
        for i in range(events):
            serial[0] += 1
            account = accounts[i % ACCOUNTS]
            created = base + serial[0]
            payload: dict[str, Any] = {
                "id": f"evt_bench_rl_{serial[0]:07d}",
                "object": "event",
                "type": "account.updated",
                "account": account,
                "created": created,
                "livemode": False,
                "api_version": stripe_gateway.API_VERSION,
                "data": {"object": {"id": account, "object": "account"}},
            }
            rows.append(
                StripeEvent(
                    stripe_id=payload["id"],
                    type="account.updated",
                    account=account,
                    created=datetime.fromtimestamp(created, tz=UTC),
                    payload=payload,
                    source=StripeEvent.Source.CONNECT,
                )
            )
        StripeEvent.objects.bulk_create(rows)

    def drain() -> None:
        try:
            events_drain()
        finally:
            connection.close()

    def one(paced: bool) -> dict[str, float]:
        StripeEvent.objects.all().delete()
        store_events()
        settings.STRIPE_RATE_LIMIT_PER_SECOND = paced_rate if paced else 0
        stripe_traffic.reset()
        time.sleep(2)  # the sandbox's window forgets the previous run
        started = time.monotonic()
        with stripe_traffic.recording() as sent:
            threads = [threading.Thread(target=drain) for _ in range(workers)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        elapsed = time.monotonic() - started
        done = StripeEvent.objects.filter(status=StripeEvent.Status.SUCCEEDED).count()
        failed = StripeEvent.objects.filter(status=StripeEvent.Status.FAILED).count()
        return {
            "429": sent.by_status(429),
            "requests": sent.count,
            "succeeded": done,
            "failed": failed,
            "seconds": elapsed,
            "rate": sent.count / elapsed if elapsed else 0.0,
        }

    print(
        f"database: {where}; {events} account.updated events, {workers} worker thread(s); "
        f"sandbox limit {LIMIT}/s; client bucket {paced_rate}/s + burst {paced_burst}"
    )
    results: dict[bool, list[dict[str, float]]] = {True: [], False: []}
    for _ in range(rounds):
        for paced in (False, True):  # interleaved
            results[paced].append(one(paced))
    ok = True
    for paced in (False, True):
        label = "paced (token bucket)" if paced else "unpaced (429s retried)"
        for r in results[paced]:
            print(
                f"{label:24} 429s {int(r['429']):5d}  requests {int(r['requests']):5d}  "
                f"succeeded {int(r['succeeded']):5d}  failed {int(r['failed']):4d}  "
                f"{r['seconds']:6.1f} s  {r['rate']:5.1f} req/s"
            )
        if paced:
            ok = all(r["429"] == 0 and r["succeeded"] == events for r in results[paced])
    rates = [r["rate"] for r in results[True]]
    print(
        f"paced requests/s min/median/max: {min(rates):.1f} / {statistics.median(rates):.1f} / "
        f"{max(rates):.1f} (Stripe's test-mode limit: {LIMIT})"
    )
    print("paced: zero 429s and every event processed:", "yes" if ok else "NO")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(run(sys.argv[1:]))
