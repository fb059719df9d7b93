"""Benchmark 1: webhook intake under load (gunicorn, PostgreSQL) against a bare baseline view.

Server: gunicorn with 2 sync workers (``--workers``) on PostgreSQL, the project's settings and
middleware. Load: wrk, 4 connections (``--connections``), a Lua script posting signed deliveries
from a file written just before each round (signed then, so they never go stale): signed events
of mixed types, 15% duplicates, 10% out of order, 1% bad signatures. Without wrk, a Python load
generator of the same shape (one keep-alive client thread per connection), said in the output.

Baseline in the same run: a bare view that verifies the signature header and inserts the raw body
into one table, behind the same middleware. Baseline and intake alternate over ``--rounds`` timed
rounds (order swapped every round), so a change in the machine's load weighs on both alike.
``--busy N`` starts N CPU-bound processes for the whole run ("machine busy"; ``--busy`` alone: one
per core).

Prints requests/s of both and the ratio per round (min/median/max, target >= 0.9), latency p50 and
p99 of both and the p99 ratio (target <= 1.2), then, in a separate phase, database transactions
per stored delivery from ``pg_stat_database`` (target 1: the health check's ``SELECT 1`` would be
a second), SQL statements per request (target 1) and Stripe calls (target 0).
"""

from __future__ import annotations

import argparse
import http.client
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from bench import _events_common as common

ROOT = Path(__file__).resolve().parent.parent
LUA_SCRIPT = Path(__file__).resolve().with_suffix(".lua")
BASELINE_PATHS = {
    "/stripe/webhook/": "/bench/raw/",
    "/stripe/webhook/connect/": "/bench/raw/connect/",
}
RATIO_TARGET = 0.9
P99_TARGET = 1.2


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_gunicorn(database_url: str, port: int, workers: int) -> subprocess.Popen[bytes]:
    """gunicorn with ``workers`` sync workers (one request at a time each, no keep-alive), the
    production command's other settings (access log; ``marketplace.wsgi`` warms each worker and
    freezes its start-up objects out of the garbage collector)."""
    env = common.bench_env()
    env["DATABASE_URL"] = database_url
    process = subprocess.Popen(
        [
            str(ROOT / ".venv" / "bin" / "gunicorn"),
            "marketplace.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--worker-class",
            "sync",
            "--workers",
            str(workers),
            "--log-level",
            "warning",
            # As in production (Dockerfile, docker-compose.yml: one access-log line per request
            # to stdout): the line is formatted and written, here to /dev/null.
            "--access-logfile",
            os.devnull,
        ],
        cwd=ROOT,
        env=env,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/stripe/webhook/")
            conn.getresponse().read()
            return process
        except OSError:
            time.sleep(0.2)
    process.terminate()
    raise RuntimeError("gunicorn did not start")


def start_burners(n: int) -> list[subprocess.Popen[bytes]]:
    """``n`` processes spinning on the CPU: a reproducibly busy machine."""
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]


@dataclass
class Run:
    """One timed run of one kind (baseline or intake)."""

    duration: float
    completed: int
    queries: int
    stripe_calls: int
    s200: int
    s400: int
    sother: int
    p50_ms: float
    p99_ms: float
    sent: list[int] = field(default_factory=list)  # request() calls per load thread
    socket_errors: int = 0

    @property
    def rate(self) -> float:
        return self.completed / self.duration


def write_deliveries(
    path: Path, deliveries: list[common.Delivery], mapping: dict[str, str]
) -> None:
    now = int(time.time())
    with path.open("w") as f:
        for d in deliveries:
            header = common.sign(d.body, d.secret, now)
            f.write(f"{mapping.get(d.path, d.path)}\t{header}\t{d.body.decode()}\n")


def run_wrk(
    port: int, file: Path, *, seconds: int, connections: int, threads: int
) -> tuple[Run, int]:
    """(the run, load threads) with wrk."""
    threads = min(threads, connections)
    out = subprocess.run(
        [
            "wrk",
            "-t",
            str(threads),
            "-c",
            str(connections),
            "-d",
            f"{seconds}s",
            "--timeout",
            "30s",
            "-s",
            str(LUA_SCRIPT),
            f"http://127.0.0.1:{port}",
            "--",
            str(file),
            str(threads),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    line = next(x for x in out.splitlines() if x.startswith("BENCH "))
    values = dict(item.split("=", 1) for item in line.split()[1:])
    run = Run(
        duration=int(values["duration_us"]) / 1e6,
        completed=int(values["completed"]),
        queries=int(values["queries"]),
        stripe_calls=int(values["stripe"]),
        s200=int(values["s200"]),
        s400=int(values["s400"]),
        sother=int(values["sother"]),
        p50_ms=int(values["p50_us"]) / 1000,
        p99_ms=int(values["p99_us"]) / 1000,
        sent=[int(x) for x in values["sent"].split(",")],
        socket_errors=int(values["socket_errors"]),
    )
    return run, threads


def run_python(port: int, file: Path, *, seconds: int, connections: int) -> tuple[Run, int]:
    """The same shape as ``run_wrk`` from Python threads: one connection each, line i::C."""
    lines = [line.rstrip("\n").split("\t", 2) for line in file.open()]
    lock = threading.Lock()
    latencies: list[float] = []
    totals = {"queries": 0, "stripe": 0, 200: 0, 400: 0, "other": 0, "errors": 0}
    sent = [0] * connections
    stop = time.perf_counter() + seconds

    def client(i: int) -> None:
        mine = lines[i::connections]
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        local: list[float] = []
        counts = {"queries": 0, "stripe": 0, 200: 0, 400: 0, "other": 0, "errors": 0}
        while time.perf_counter() < stop:
            path, signature, body = mine[sent[i] % len(mine)]
            sent[i] += 1
            started = time.perf_counter()
            try:
                conn.request(
                    "POST",
                    path,
                    body=body.encode(),
                    headers={"Content-Type": "application/json", "Stripe-Signature": signature},
                )
                response = conn.getresponse()
                response.read()
            except OSError:
                counts["errors"] += 1
                conn.close()
                continue
            local.append(time.perf_counter() - started)
            status = response.status if response.status in (200, 400) else "other"
            counts[status] += 1
            counts["queries"] += int(response.getheader("X-Bench-Queries") or 0)
            counts["stripe"] += int(response.getheader("X-Bench-Stripe-Calls") or 0)
            if response.will_close:
                conn.close()
        with lock:
            latencies.extend(local)
            for key, n in counts.items():
                totals[key] += n

    workers = [threading.Thread(target=client, args=(i,)) for i in range(connections)]
    started = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    elapsed = time.perf_counter() - started
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(int(len(latencies) * p), len(latencies) - 1)] * 1000

    run = Run(
        duration=elapsed,
        completed=len(latencies),
        queries=totals["queries"],
        stripe_calls=totals["stripe"],
        s200=totals[200],
        s400=totals[400],
        sother=totals["other"],
        p50_ms=pct(0.50),
        p99_ms=pct(0.99),
        sent=sent,
        socket_errors=totals["errors"],
    )
    return run, connections


def stored_bounds(deliveries: list[common.Delivery], run: Run, threads: int) -> tuple[int, int]:
    """(at least, at most) new events the intake can have stored from ``run``: the unique
    well-signed events among the lines each load thread sent, less those possibly in flight."""
    ids: set[str] = set()
    for t, n in enumerate(run.sent):
        mine = deliveries[t::threads]
        for k in range(min(n, len(mine))):
            if mine[k].stripe_id:
                ids.add(mine[k].stripe_id)
    in_flight = len(run.sent) + run.socket_errors + 4
    return max(len(ids) - in_flight, 0), len(ids)


def stats_url(database_url: str) -> str:
    """The server's ``postgres`` database: reading the statistics there adds no transaction to
    the bench database's own count."""
    return urlunsplit(urlsplit(database_url)._replace(path="/postgres"))


def transactions(admin_url: str, name: str) -> int:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = %s", [name]
        ).fetchone()
    return int(row[0]) if row else 0


# A backend reports its transaction counts at most once a second while busy, and 10 s after it
# went idle (PostgreSQL 15's PGSTAT_IDLE_INTERVAL): wait that long before reading them.
STATS_FLUSH_SECONDS = 11.5


def spread(values: list[float]) -> str:
    return f"min {min(values):.2f} / median {statistics.median(values):.2f} / max {max(values):.2f}"


def parse(argv: list[str]) -> tuple[argparse.Namespace, argparse.Namespace]:
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--rounds", type=int, default=6, help="timed rounds of each kind")
    parser.add_argument("--seconds", type=int, default=5, help="length of one timed run")
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers")
    parser.add_argument("--wrk-threads", type=int, default=1)
    parser.add_argument(
        "--busy",
        type=int,
        nargs="?",
        const=os.cpu_count() or 2,
        default=0,
        help="N CPU-bound background processes during the run (alone: one per core)",
    )
    parser.add_argument("--python-client", action="store_true", help="never use wrk")
    own, rest = parser.parse_known_args(argv)
    return own, common.parse_args(rest, __doc__ or "")


def main(argv: list[str]) -> int:
    own, args = parse(argv)
    reason = common.require_services()
    if reason:
        print(f"events_intake {reason}")
        return 0
    common.setup_django()
    from django.conf import settings
    from django.db import connection

    from marketplace.events.models import StripeEvent

    database_url = os.environ["DATABASE_URL"]  # the _bench database, set by setup_django
    db_name = str(settings.DATABASES["default"]["NAME"])
    admin_url = stats_url(database_url)
    use_wrk = shutil.which("wrk") is not None and not own.python_client
    if use_wrk:
        load = f"wrk ({own.wrk_threads} thread(s), {own.connections} connections, keep-alive)"
    else:
        why = "--python-client" if own.python_client else "wrk is not installed"
        load = (
            f"Python load generator ({why}; apt-get install wrk): {own.connections} "
            "keep-alive client threads"
        )
    print(
        f"load: {load}, posting from a file of {args.events} deliveries per round (15% "
        f"duplicates, 10% out of order, 1% bad signatures, {len(common.EVENT_TYPES)} event types)"
    )
    prepared = settings.DATABASES["default"].get("OPTIONS", {}).get("prepare_threshold") is not None
    print(
        f"server: gunicorn, {own.workers} sync workers (no keep-alive: each answer closes its "
        f"connection; access log as in production, to /dev/null), PostgreSQL {db_name}, "
        f"prepared statements {'on' if prepared else 'off'}, health checks "
        f"{'on' if settings.DATABASES['default'].get('CONN_HEALTH_CHECKS') else 'off'}, "
        f"ATOMIC_REQUESTS {settings.DATABASES['default'].get('ATOMIC_REQUESTS', False)}"
    )
    print(
        f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start, "
        f"{own.busy} busy-loop processes added (--busy)"
    )
    print(
        f"rounds: {own.rounds} x {own.seconds} s per kind, baseline and intake alternating "
        "(order swapped each round)"
    )

    def run(file: Path) -> tuple[Run, int]:
        if use_wrk:
            return run_wrk(
                port,
                file,
                seconds=own.seconds,
                connections=own.connections,
                threads=own.wrk_threads,
            )
        return run_python(port, file, seconds=own.seconds, connections=own.connections)

    common.reset_tables()
    port = free_port()
    burners = start_burners(own.busy)
    server = start_gunicorn(database_url, port, own.workers)
    base_runs: list[Run] = []
    real_runs: list[Run] = []
    low = high = 0
    try:
        with tempfile.TemporaryDirectory(prefix="bench-intake-") as tmp:
            base_file, real_file = Path(tmp) / "baseline.tsv", Path(tmp) / "intake.tsv"
            for r in range(own.rounds + 2):
                workload = common.make_workload(args.events, seed=args.seed + r)
                write_deliveries(base_file, workload.deliveries, BASELINE_PATHS)
                write_deliveries(real_file, workload.deliveries, {})
                if r < own.rounds:
                    kinds = ["base", "real"] if r % 2 == 0 else ["real", "base"]
                    for kind in kinds:
                        result, threads = run(base_file if kind == "base" else real_file)
                        (base_runs if kind == "base" else real_runs).append(result)
                        if kind == "real":
                            lo, hi = stored_bounds(workload.deliveries, result, threads)
                            low, high = low + lo, high + hi
                    continue
                # Accounting: one kind at a time, between idle waits, so pg_stat_database's
                # counts of the bench database belong to that kind alone.
                kind = "base" if r == own.rounds else "real"
                time.sleep(STATS_FLUSH_SECONDS)
                before = transactions(admin_url, db_name)
                result, threads = run(base_file if kind == "base" else real_file)
                time.sleep(STATS_FLUSH_SECONDS)
                xacts = transactions(admin_url, db_name) - before
                if kind == "base":
                    base_xact = (xacts, result)
                else:
                    real_xact = (xacts, result)
                    lo, hi = stored_bounds(workload.deliveries, result, threads)
                    low, high = low + lo, high + hi
    finally:
        server.terminate()
        server.wait(timeout=30)
        for burner in burners:
            burner.kill()
            burner.wait()

    def line(name: str, runs: list[Run]) -> str:
        rates = [r.rate for r in runs]
        return (
            f"{name} requests/s {spread(rates)}; latency p50 median "
            f"{statistics.median(r.p50_ms for r in runs):.1f} ms, p99 median "
            f"{statistics.median(r.p99_ms for r in runs):.1f} ms (max {max(r.p99_ms for r in runs):.1f})"
        )

    for i, (b, r) in enumerate(zip(base_runs, real_runs, strict=True)):
        print(
            f"  round {i + 1}: baseline {b.rate:6.1f}/s p99 {b.p99_ms:6.1f} ms, intake "
            f"{r.rate:6.1f}/s p99 {r.p99_ms:6.1f} ms"
        )
    print(line("baseline (verify + one INSERT):", base_runs))
    print(line("intake (/stripe/webhook/...):  ", real_runs))
    ratios = [r.rate / b.rate for r, b in zip(real_runs, base_runs, strict=True)]
    p99s = [r.p99_ms / b.p99_ms for r, b in zip(real_runs, base_runs, strict=True)]
    p50s = [r.p50_ms / b.p50_ms for r, b in zip(real_runs, base_runs, strict=True)]
    print(f"ratio intake/baseline requests/s: {spread(ratios)} (target >= {RATIO_TARGET})")
    print(f"ratio intake/baseline latency p99: {spread(p99s)} (target <= {P99_TARGET})")
    print(f"ratio intake/baseline latency p50: {spread(p50s)}")

    def per_stored(xacts: int, run: Run) -> str:
        # 400s (bad signatures) touch no table. Requests still in flight when the load stops
        # (sent, never answered) may have committed: counted as a range.
        unanswered = sum(run.sent) - run.completed
        low = xacts / (run.s200 + max(unanswered, 0))
        return f"{low:.3f}..{xacts / run.s200:.3f} ({xacts} for {run.s200} answered 200, {unanswered} unanswered)"

    print(
        "database transactions per accepted delivery (pg_stat_database, target 1): intake "
        f"{per_stored(*real_xact)}, baseline {per_stored(*base_xact)}"
    )
    real_all = [*real_runs, real_xact[1]]
    base_all = [*base_runs, base_xact[1]]
    real_q = sum(r.queries for r in real_all) / sum(r.s200 for r in real_all)
    base_q = sum(r.queries for r in base_all) / sum(r.s200 for r in base_all)
    print(
        f"SQL statements per accepted delivery: intake {real_q:.3f} (target 1), baseline "
        f"{base_q:.3f}"
    )
    stripe_calls = sum(r.stripe_calls for r in real_all)
    print(f"Stripe calls during intake: {stripe_calls} (target 0)")
    stored = StripeEvent.objects.count()
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM bench_raw_event")
        raw_rows = cursor.fetchone()[0]
    unexpected = sum(r.sother + r.socket_errors for r in [*real_all, *base_all])
    ok = low <= stored <= high and unexpected == 0 and stripe_calls == 0
    print(
        f"check: {stored} events stored, {low}..{high} expected (duplicates stored once); "
        f"baseline stored {raw_rows} raw bodies; statuses other than 200/400 or socket errors: "
        f"{unexpected} -> {'OK' if ok else 'MISMATCH'}"
    )
    met = (
        statistics.median(ratios) >= RATIO_TARGET
        and statistics.median(p99s) <= P99_TARGET
        and round(real_q, 3) <= 1.0
    )
    print(f"targets (medians): {'met' if met else 'NOT met'}")
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
