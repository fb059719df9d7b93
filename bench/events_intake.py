"""Benchmark 1: webhook intake over HTTP (gunicorn, PostgreSQL) against a bare baseline view.

Workload: signed events of mixed types, 15% duplicates, 10% out of order, 1% bad signatures,
posted by keep-alive clients. Baseline in the same run: a bare view that verifies the signature
header and inserts the raw body into one table. Prints requests/s of both, the ratio (target
>= 0.7), SQL queries per request (target <= 2) and Stripe calls (target 0).
"""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from bench import _events_common as common

ROOT = Path(__file__).resolve().parent.parent
CLIENT_THREADS = int(os.environ.get("BENCH_CLIENTS", "8"))
ROUNDS = 5


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_gunicorn(database_url: str, port: int) -> subprocess.Popen[bytes]:
    env = common.bench_env()
    env["DATABASE_URL"] = database_url
    workers = os.environ.get("BENCH_GUNICORN_WORKERS", "2")
    process = subprocess.Popen(
        [
            str(ROOT / ".venv" / "bin" / "gunicorn"),
            "marketplace.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--worker-class",
            "gthread",
            "--workers",
            workers,
            "--threads",
            "4",
            "--keep-alive",
            "30",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/stripe/webhook/")
            conn.getresponse().read()
            return process
        except OSError:
            time.sleep(0.2)
    process.terminate()
    raise RuntimeError("gunicorn did not start")


class Totals:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests = self.queries = self.stripe_calls = self.unexpected = 0
        self.statuses: dict[int, int] = {}

    def add(self, other: Totals) -> None:
        self.requests += other.requests
        self.queries += other.queries
        self.stripe_calls += other.stripe_calls
        self.unexpected += other.unexpected
        for status, n in other.statuses.items():
            self.statuses[status] = self.statuses.get(status, 0) + n


def post_all(
    port: int, deliveries: list[common.Delivery], path_map: dict[str, str]
) -> tuple[float, Totals]:
    totals = Totals()

    def client(chunk: list[common.Delivery]) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        requests = queries = calls = unexpected = 0
        statuses: dict[int, int] = {}
        for d in chunk:
            header = common.sign(d.body, d.secret, int(time.time()))
            conn.request(
                "POST",
                path_map.get(d.path, d.path),
                body=d.body,
                headers={"Content-Type": "application/json", "Stripe-Signature": header},
            )
            response = conn.getresponse()
            response.read()
            requests += 1
            statuses[response.status] = statuses.get(response.status, 0) + 1
            queries += int(response.getheader("X-Bench-Queries") or 0)
            calls += int(response.getheader("X-Bench-Stripe-Calls") or 0)
            if response.status != d.expect:
                unexpected += 1
        conn.close()
        with totals.lock:
            totals.requests += requests
            totals.queries += queries
            totals.stripe_calls += calls
            totals.unexpected += unexpected
            for status, n in statuses.items():
                totals.statuses[status] = totals.statuses.get(status, 0) + n

    threads = [
        threading.Thread(target=client, args=(deliveries[i::CLIENT_THREADS],))
        for i in range(CLIENT_THREADS)
    ]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started, totals


BASELINE_PATHS = {
    "/stripe/webhook/": "/bench/raw/",
    "/stripe/webhook/connect/": "/bench/raw/connect/",
}


def main(argv: list[str]) -> int:
    args = common.parse_args(argv, __doc__ or "")
    reason = common.require_services()
    if reason:
        print(f"events_intake {reason}")
        return 0
    common.setup_django()
    from django.conf import settings
    from django.db import connection

    from marketplace.events.models import StripeEvent

    database_url = os.environ["DATABASE_URL"]
    workload = common.make_workload(args.events, seed=args.seed)
    warmup = common.make_workload(400, seed=args.seed + 1000)
    print(
        f"workload: {len(workload.deliveries)} deliveries over HTTP ({CLIENT_THREADS} keep-alive "
        f"clients), {len(workload.events)} unique events of {len(common.EVENT_TYPES)} types, "
        f"{workload.duplicates} duplicates, {workload.out_of_order} out of order, "
        f"{workload.bad} bad signatures; baseline and intake alternate over {ROUNDS} slices"
    )
    print(
        f"server: gunicorn gthread {os.environ.get('BENCH_GUNICORN_WORKERS', '2')}x4 on "
        f"PostgreSQL {settings.DATABASES['default']['NAME']}, broker {os.environ['REDIS_URL']}"
    )
    port = free_port()
    server = start_gunicorn(database_url, port)
    try:
        common.reset_tables()
        post_all(port, warmup.deliveries, BASELINE_PATHS)
        post_all(port, warmup.deliveries, {})
        common.reset_tables()
        # Alternate baseline and intake over slices of the workload, so a change in the load of
        # the machine during the run weighs on both alike.
        base_time = real_time = 0.0
        base, real = Totals(), Totals()
        step = max(len(workload.deliveries) // ROUNDS, 1)
        for start in range(0, len(workload.deliveries), step):
            chunk = workload.deliveries[start : start + step]
            elapsed, totals = post_all(port, chunk, BASELINE_PATHS)
            base_time += elapsed
            base.add(totals)
            elapsed, totals = post_all(port, chunk, {})
            real_time += elapsed
            real.add(totals)
    finally:
        server.terminate()
        server.wait(timeout=20)
    base_rate = base.requests / base_time
    real_rate = real.requests / real_time
    print(f"baseline (verify + insert raw body): {base_rate:8.0f} requests/s  {base.statuses}")
    print(f"intake (/stripe/webhook/...):        {real_rate:8.0f} requests/s  {real.statuses}")
    ratio = real_rate / base_rate
    print(f"ratio intake/baseline: {ratio:.2f} (target >= 0.7)")
    print(
        f"queries per request: intake {real.queries / real.requests:.2f} (target <= 2), "
        f"baseline {base.queries / base.requests:.2f}"
    )
    print(f"Stripe calls during intake: {real.stripe_calls} (target 0)")
    stored = StripeEvent.objects.count()
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM bench_raw_event")
        raw_rows = cursor.fetchone()[0]
    ok = (
        stored == len(workload.events)
        and real.unexpected == 0
        and base.unexpected == 0
        and real.stripe_calls == 0
    )
    print(
        f"check: {stored} events stored for {len(workload.events)} unique (duplicates stored "
        f"once); baseline stored {raw_rows} raw bodies; unexpected statuses: intake "
        f"{real.unexpected}, baseline {base.unexpected} -> {'OK' if ok else 'MISMATCH'}"
    )
    _purge_wakeups()
    return 0 if ok else 1


def _purge_wakeups() -> None:
    """Drop the drain wake-ups intake sent to the bench queue (no worker ran in this benchmark)."""
    try:
        import redis

        redis.Redis.from_url(os.environ["REDIS_URL"]).delete("bench-events")
    except Exception as exc:  # the numbers are printed already
        print(f"(could not purge the bench queue: {exc})", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
