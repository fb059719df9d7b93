"""Shared set-up of the events benchmarks: a dedicated PostgreSQL database and the workload."""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

PLATFORM_SECRET = "whsec_bench_platform"
CONNECT_SECRET = "whsec_bench_connect"
STATE_TABLE = "bench_object_state"

# (type, endpoint, object type): a mix like a marketplace's traffic; "sellerx.unknown" has no handler.
EVENT_TYPES = [
    ("account.updated", "connect", "account"),
    ("checkout.session.completed", "platform", "checkout.session"),
    ("payment_intent.succeeded", "platform", "payment_intent"),
    ("charge.refunded", "platform", "charge"),
    ("transfer.created", "platform", "transfer"),
    ("payout.paid", "connect", "payout"),
    ("balance.available", "connect", "balance"),
    ("sellerx.unknown", "platform", "thing"),
]


def bench_env() -> dict[str, str]:
    """Environment of every bench process: production-like settings, real-Stripe test mode."""
    env = dict(os.environ)
    env.update(
        DEBUG="0",
        SECRET_KEY="bench-only-secret-key-0123456789-0123456789-0123456789",
        ALLOWED_HOSTS="127.0.0.1,localhost",
        SECURE_SSL_REDIRECT="0",
        # Test mode with fixed secrets: no sandbox, and any Stripe call would be counted.
        STRIPE_SECRET_KEY="sk_test_bench",
        STRIPE_WEBHOOK_SECRET=PLATFORM_SECRET,
        STRIPE_CONNECT_WEBHOOK_SECRET=CONNECT_SECRET,
        DJANGO_SETTINGS_MODULE="bench.events_settings",
    )
    return env


def require_services() -> str | None:
    """The reason to skip, or None when DATABASE_URL (PostgreSQL) and REDIS_URL are set."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        return "skipped: set DATABASE_URL to a PostgreSQL server (the benchmark uses <name>_bench)"
    if not os.environ.get("REDIS_URL"):
        return "skipped: set REDIS_URL (the Celery broker the workers are woken through)"
    return None


def bench_database_url(suffix: str = "_bench") -> str:
    """``DATABASE_URL`` with ``suffix`` appended to the database name, created if missing."""
    import psycopg

    parts = urlsplit(os.environ["DATABASE_URL"])
    name = parts.path.lstrip("/") + suffix
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')
    return urlunsplit(parts._replace(path="/" + name))


def setup_django() -> None:
    """Point this process at the bench database, set Django up and migrate."""
    url = bench_database_url()
    for key, value in bench_env().items():
        os.environ[key] = value
    os.environ["DATABASE_URL"] = url
    sys.path.insert(0, os.getcwd())
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE IF NOT EXISTS bench_raw_event (id bigserial PRIMARY KEY, body text NOT NULL)"
        )
        cursor.execute(
            f"CREATE TABLE IF NOT EXISTS {STATE_TABLE} (object_id text PRIMARY KEY, "
            "version integer NOT NULL, applied_created timestamptz NOT NULL)"
        )


def reset_tables() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE events_stripeevent, bench_raw_event, {STATE_TABLE}")


@dataclass(frozen=True)
class Delivery:
    path: str
    body: bytes
    secret: str  # signed when sent, so a long run never goes stale
    expect: int
    stripe_id: str


@dataclass(frozen=True)
class Workload:
    deliveries: list[Delivery]
    events: dict[str, dict]  # unique, well-signed events by id
    duplicates: int
    out_of_order: int
    bad: int


def sign(body: bytes, secret: str, t: int) -> str:
    import hashlib
    import hmac

    digest = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"


def make_workload(total: int, seed: int = 42) -> Workload:
    """``total`` deliveries: 15% duplicates, 10% out of order, 1% bad signatures, mixed types.

    Each object (``obj_<n>``) goes through versions 1, 2, 3 ...; event ``created`` grows with the
    version, so the right final state of an object is its highest version.
    """
    rng = random.Random(seed)
    n_dup = int(total * 0.15)
    n_bad = int(total * 0.01)
    n_unique = total - n_dup - n_bad
    base = int(time.time()) - 3600
    objects = max(n_unique // 8, 1)
    versions: dict[str, int] = {}
    uniques: list[tuple[Delivery, dict]] = []
    for i in range(n_unique):
        event_type, endpoint, object_type = rng.choice(EVENT_TYPES)
        object_id = f"obj_{object_type}_{rng.randrange(objects)}"
        version = versions[object_id] = versions.get(object_id, 0) + 1
        event = {
            "id": f"evt_bench_{seed}_{i:07d}",
            "object": "event",
            "api_version": "2026-10-28.endive",
            "created": base + version,
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "type": event_type,
            "data": {"object": {"id": object_id, "object": object_type, "version": version}},
        }
        if endpoint == "connect":
            event["account"] = f"acct_bench_{rng.randrange(50)}"
        secret = CONNECT_SECRET if endpoint == "connect" else PLATFORM_SECRET
        path = "/stripe/webhook/connect/" if endpoint == "connect" else "/stripe/webhook/"
        body = json.dumps(event, separators=(",", ":")).encode()
        uniques.append((Delivery(path, body, secret, 200, event["id"]), event))
    # 10% out of order: swap each chosen delivery with one a few places later.
    order = list(range(n_unique))
    n_ooo = int(total * 0.10)
    for i in rng.sample(range(n_unique - 10), min(n_ooo, max(n_unique - 10, 0))):
        j = i + rng.randrange(1, 10)
        order[i], order[j] = order[j], order[i]
    deliveries = [uniques[k][0] for k in order]
    for _ in range(n_dup):
        original = rng.choice(deliveries[: len(deliveries)])
        deliveries.insert(rng.randrange(len(deliveries) + 1), original)
    for _ in range(n_bad):
        good = rng.choice(uniques)[0]
        forged = Delivery(good.path, good.body, "whsec_forged", 400, "")
        deliveries.insert(rng.randrange(len(deliveries) + 1), forged)
    return Workload(
        deliveries=deliveries,
        events={event["id"]: event for _, event in uniques},
        duplicates=n_dup,
        out_of_order=n_ooo,
        bad=n_bad,
    )


def arrival_order[T](
    items: list[T], *, seed: int, duplicates: float = 0.15, late: float = 0.10
) -> list[T]:
    """``items`` as a webhook endpoint receives them: a share ``late`` swapped with one up to 9
    places later (out of order), then a share ``duplicates`` delivered a second time at a random
    place (Stripe delivers at least once)."""
    rng = random.Random(seed)
    order = list(items)
    n = len(order)
    for i in rng.sample(range(max(n - 10, 0)), min(int(n * late), max(n - 10, 0))):
        j = i + rng.randrange(1, 10)
        order[i], order[j] = order[j], order[i]
    for _ in range(int(n * duplicates)):
        order.insert(rng.randrange(len(order) + 1), rng.choice(items))
    return order


def parse_args(argv: list[str], description: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=description)
    parser.add_argument(
        "--events",
        type=int,
        default=int(os.environ.get("BENCH_EVENTS", "10000")),
        help="deliveries in the workload (env BENCH_EVENTS, default 10000)",
    )
    parser.add_argument("--seed", type=int, default=42)
    return parser.parse_args(argv)
