"""Benchmark 2: the event pipeline with the REAL handlers on the events of REAL flows, drained by a
real Celery worker, against the same worker draining one no-op task per event.

Workload, recorded (not timed): on the in-process Stripe sandbox, ``--sellers`` sellers each
onboard (Connect ``account.*`` events), sell one item through hosted Checkout (``payment_intent.*``,
``charge.*``, ``transfer.created``, ``application_fee.created``, ``checkout.session.completed``);
every second order is confirmed by the success page first and then refunded in full by its
seller (``charge.refunded``, ``refund.*``, ...); then the sandbox clock moves on and Stripe pays
the sellers out (``balance.available``, ``payout.*``). The sandbox's webhook deliveries to our two
endpoints are kept, not posted: those are the events. Our tables are snapshotted right after
(user actions done, no event processed) and restored before every drain.

Faithfulness: the handlers are the project's registry, unchanged; their Stripe reads go to the
sandbox in-process through the real gateway and SDK (counted below as Stripe requests; the
sandbox's own SQL is counted apart as "Stripe's side"). The events reach the pipeline as intake
stores them (``event_store``), in arrival order with 10% out of order and 15% duplicate
deliveries (deduplicated at intake, as in production); after a round, 15% are replayed (handlers
run twice) and the final state must not change. Emails the handlers queue (after commit) are
Celery tasks of their own and are not in the timed drain.

Timed, interleaved rounds (a warm-up round first, not counted): (a) baseline: the worker (solo
pool, Redis broker, acks_late, prefetch 1) runs one no-op task per event, all queued while it is
held in a task of its own, the clock started when it is let go (so the queue holds them all, as
the store holds the events for (b)); (b) pipeline: one ``drain_events`` task, queued when the
clock starts, drains the stored events (batches, real handlers). The clock stops when the worker
signals, in memory, the n-th no-op task done or the batch that commits the n-th event; what the
drain queues (emails, the recording of Stripe's fees) runs after, untimed. (Before 2026-11-28 the no-op tasks were queued while the worker already ran them,
the clock started after the queueing, about a third of them done by then, and both sides were
polled every 20 ms: that overstated the baseline by 1.1 to 1.7x, docs/operations.md.)
Prints min/median/max of both, the ratio of the medians (target >= 0.7), then statements and
Stripe requests per event type at N events and at 2N (``2 x --sellers``), and per unit of work
(the events of one sale summed, of one refund, of one payout, of one account: which event of a
sale pays for its reads and records depends on arrival order and on which events share a batch,
so per type the figures move; per sale they must not). They must not grow from N to 2N.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter, defaultdict
from typing import Any

from bench import _events_common as common

TARGET = 0.7
SHIPPING = {
    "shipping-name": "Ada Lovelace",
    "shipping-line1": "12 rue des Lilas",
    "shipping-postal_code": "75011",
    "shipping-city": "Paris",
    "shipping-country": "FR",
}


def main(argv: list[str]) -> int:
    """Runs in its own process (its own settings: the sandbox, manual webhook delivery)."""
    reason = common.require_services()
    if reason:
        print(f"events_processing {reason}")
        return 0
    return subprocess.call([sys.executable, "-m", "bench.events_processing", *argv])


def _setup() -> None:
    url = common.bench_database_url("_bench_processing")
    os.environ.update(
        DEBUG="0",
        SECRET_KEY="bench-only-secret-key-0123456789-0123456789-0123456789",
        ALLOWED_HOSTS="testserver,127.0.0.1,localhost",
        SECURE_SSL_REDIRECT="0",
        SANDBOX_HTTP_OPEN="1",
        SANDBOX_WEBHOOK_DELIVERY="manual",
        SITE_URL="http://testserver",
        EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
        LOG_LEVEL="ERROR",
        DJANGO_SETTINGS_MODULE="marketplace.settings",
        DATABASE_URL=url,
    )
    os.environ.pop("STRIPE_SECRET_KEY", None)  # the in-process sandbox
    sys.path.insert(0, os.getcwd())
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    call_command("flush", "--noinput", verbosity=0)
    call_command("collectstatic", "--noinput", verbosity=0)


def _record_flows(first: int, count: int) -> list[tuple[dict[str, Any], str]]:
    """Run ``count`` sellers' flows on the sandbox; return the events it would deliver to us
    (event JSON, our endpoint's kind), in the order it emitted them.

    Half the sellers sell and later refund: their sale (success page first, then its webhooks)
    is history, processed before recording starts; the refund's events are recorded. The other
    half onboard and sell, webhook first: all their events are recorded. Then the payouts.
    """
    from django.test import Client
    from django.urls import reverse

    from bench._fixtures import new_user, onboarded_account
    from buyers.models import Order
    from marketplace.events.models import StripeEvent, WebhookEndpoint
    from marketplace.events.services import processing
    from payouts.services import refund_request_create
    from sandbox import delivery, testing
    from sandbox.models import Delivery, SandboxObject
    from sellers.models import Listing, Seller

    def sale(n: int, *, success_page: bool) -> tuple[Any, Any]:
        user = new_user()
        name = f"Bench shop {n}"
        seller = Seller.objects.create(
            user=user,
            display_name=name,
            slug=f"bench-shop-{n}-{uuid.uuid4().hex[:6]}",
            country="FR",
            default_currency="eur",
            stripe_account_id=onboarded_account(name=name),
            # As after the onboarding return page synced the account.
            charges_enabled=True,
            payouts_enabled=True,
            details_submitted=True,
        )
        listing = Listing.objects.create(
            seller=seller,
            title=f"{name} mug",
            price_amount=2500 + n,
            currency="eur",
            stock=None,
            status=Listing.Status.PUBLISHED,
        )
        buyer = Client()
        buyer.force_login(new_user())
        response = buyer.post(reverse("buyers:listing_buy", args=[listing.pk]), {"quantity": 1})
        assert response.status_code == 303, response.status_code
        page = _local(response["Location"])
        buyer.get(page)
        response = buyer.post(
            page,
            {
                "email": f"buyer{n}@example.com",
                "card_number": "4242424242424242",
                "expiry": "12 / 34",
                "cvc": "123",
                "name": "Ada",
                **SHIPPING,
            },
        )
        assert response.status_code == 302, (response.status_code, response.content[:300])
        if success_page:
            assert buyer.get(_local(response["Location"]), follow=True).status_code == 200
        return user, listing

    def last_delivery() -> int:
        return Delivery.objects.order_by("-pk").values_list("pk", flat=True).first() or 0

    mark = last_delivery()
    refunded = [sale(n, success_page=True) for n in range(first, first + count, 2)]
    # History: these sales' events, delivered and processed before the bench.
    for pk in Delivery.objects.filter(pk__gt=mark).order_by("pk").values_list("pk", flat=True):
        delivery.attempt(pk, force=True)
    processing.events_drain()
    StripeEvent.objects.all().delete()
    since = last_delivery()
    for user, listing in refunded:
        order = Order.objects.get(listing=listing)
        refund_request_create(
            actor=user,
            charge_id=order.charge_id,
            amount=order.amount,
            reason="damaged",
            client_token=uuid.uuid4(),
        )
    for n in range(first + 1, first + count, 2):
        sale(n, success_page=False)
    testing.advance(days=8)  # funds become available, automatic payouts are made and paid
    kinds = dict(WebhookEndpoint.objects.values_list("stripe_id", "kind"))
    deliveries = list(
        Delivery.objects.filter(pk__gt=since).order_by("pk").values_list("event_id", "endpoint_id")
    )
    bodies = dict(
        SandboxObject.objects.filter(
            object="event", id__in={event_id for event_id, _ in deliveries}
        ).values_list("id", "data")
    )
    return [(bodies[event_id], kinds[endpoint]) for event_id, endpoint in deliveries]


def _local(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _flow_groups(flows: list[tuple[dict[str, Any], str]]) -> dict[str, str]:
    """Each event's unit of work in the flows, by event id: the sale (or the refund of a sale)
    it belongs to, the payout, the account; "ignored <type>" for events without a handler.

    The events of one sale share their cost depending on which arrives first (the first reads
    and records, the others find it done): statements per sale, summed over its events, are
    what must stay constant from N to 2N, not per event type."""
    from marketplace.events.registry import handler_for

    purchase_of: dict[str, str] = {}  # charge / payment intent id -> purchase id
    for event, _ in flows:
        obj = event["data"]["object"]
        purchase = str((obj.get("metadata") or {}).get("purchase_id") or "")
        if purchase:
            for ref in (obj.get("id"), obj.get("payment_intent"), obj.get("latest_charge")):
                if isinstance(ref, str):
                    purchase_of[ref] = purchase
    groups: dict[str, str] = {}
    for event, _ in flows:
        obj = event["data"]["object"]
        kind = obj.get("object")
        if handler_for(event["type"]) is None:
            groups[event["id"]] = f"ignored {event['type']}"
        elif kind == "payout":
            groups[event["id"]] = f"payout {obj['id']}"
        elif kind == "account" or event["type"].startswith("account."):
            groups[event["id"]] = f"account {event.get('account') or obj.get('id')}"
        else:
            refs = [obj.get(k) for k in ("charge", "source_transaction", "payment_intent", "id")]
            refs += [obj.get("originating_transaction")]
            found = [purchase_of[r] for r in refs if isinstance(r, str) and r in purchase_of]
            groups[event["id"]] = f"sale {found[0]}" if found else f"other {event['type']}"
    # A refund's events are a unit of their own; a payout paid within the flows has one more
    # state change than one still in transit: compared only with units of the same kind.
    refunded = {groups[event["id"]] for event, _ in flows if event["type"] == "charge.refunded"}
    paid = {groups[event["id"]] for event, _ in flows if event["type"] == "payout.paid"}
    return {
        eid: ("refund of " + g if g in refunded else "paid " + g if g in paid else g)
        for eid, g in groups.items()
    }


class Snapshot:
    """Our tables (not the sandbox's) as they were after the flows, restored before each drain."""

    def __init__(self) -> None:
        from django.db import connection

        names = connection.introspection.table_names()
        self.tables = [
            t
            for t in names
            if not t.startswith(("sandbox_", "bench_", "django_migrations"))
            and t != "django_session"
        ]
        with connection.cursor() as cursor:
            for table in self.tables:
                cursor.execute(f'DROP TABLE IF EXISTS "bench_snap_{table}"')
                cursor.execute(f'CREATE TABLE "bench_snap_{table}" AS SELECT * FROM "{table}"')

    def restore(self) -> None:
        from django.db import connection, transaction

        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("TRUNCATE " + ", ".join(f'"{t}"' for t in self.tables))
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
            for table in self.tables:
                cursor.execute(f'INSERT INTO "{table}" SELECT * FROM "bench_snap_{table}"')


def _fingerprint() -> Counter[tuple[Any, ...]]:
    """What the handlers decided, order-independent: every row of the apps' models, without
    ids and timestamps (which depend on the order rows were written); a foreign key to a row
    mirroring a Stripe object is replaced by that object's id."""
    from django.apps import apps
    from django.db import models

    def natural(model: Any) -> dict[Any, str] | None:
        names = {f.name for f in model._meta.concrete_fields}
        for key in ("stripe_object_id", "stripe_id"):
            if key in names:
                extra = ["kind"] if "kind" in names else []
                return {
                    pk: "/".join(map(str, rest))
                    for pk, *rest in model.objects.values_list("pk", *extra, key)
                }
        return None

    rows: Counter[tuple[Any, ...]] = Counter()
    for label in ("sellers", "buyers", "payouts"):
        for model in apps.get_app_config(label).get_models():
            fields = [
                f
                for f in model._meta.concrete_fields
                if not f.primary_key
                and not isinstance(f, models.DateTimeField | models.DateField)
                and not f.attname.endswith(("_token", "_key"))
            ]
            maps = [natural(f.related_model) if f.is_relation else None for f in fields]
            for values in model.objects.values_list(*(f.attname for f in fields)):
                rows[
                    (
                        model.__name__,
                        *(
                            str(m.get(v, v) if m is not None else v)
                            for m, v in zip(maps, values, strict=True)
                        ),
                    )
                ] += 1
    return rows


def run(argv: list[str]) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m bench events_processing")
    parser.add_argument("--sellers", type=int, default=int(os.environ.get("BENCH_SELLERS", "10")))
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--show-sql", default="", metavar="TYPE", help="print the SQL of one event of TYPE"
    )
    args = parser.parse_args(argv)
    _setup()
    from celery.contrib.testing.worker import start_worker
    from django.db import connection

    from marketplace import stripe_gateway, stripe_traffic
    from marketplace.celery import app
    from marketplace.events import services
    from marketplace.events.models import StripeEvent
    from marketplace.events.registry import handler_for
    from marketplace.events.services import processing

    # A queue and a control exchange of its own, set before anything is published: tests'
    # workers on the same Redis consume the project's default queue, and their shutdown
    # broadcasts would stop this worker too.
    app.conf.task_default_queue = "bench-events-processing"
    app.conf.control_exchange = "bench-events-processing"
    stripe_gateway.reset_client()
    services.webhook_endpoints_ensure_sandbox()
    started = time.perf_counter()
    flows_n = _record_flows(0, args.sellers)
    flows_2n = flows_n + _record_flows(args.sellers, args.sellers)
    recorded = time.perf_counter() - started
    StripeEvent.objects.all().delete()
    snapshot = Snapshot()
    types = Counter(event["type"] for event, _ in flows_2n)
    print(
        f"workload: {args.sellers} sellers' flows -> {len(flows_n)} events (N); "
        f"{2 * args.sellers} -> {len(flows_2n)} (2N); recorded on the sandbox in {recorded:.0f} s"
    )
    print(
        "  per 2N: "
        + ", ".join(
            f"{t} x{c}" + ("" if handler_for(t) else " (no handler)")
            for t, c in types.most_common()
        )
    )
    print(
        "delivery: arrival order with 10% out of order and 15% duplicate deliveries "
        "(deduplicated at intake); worker: one Celery worker, solo pool, Redis broker, acks_late, "
        "prefetch 1"
    )

    def store(flows: list[tuple[dict[str, Any], str]], seed: int) -> int:
        snapshot.restore()
        for event, kind in common.arrival_order(flows, seed=seed):
            services.event_store(event=event, source=kind)
        return StripeEvent.objects.count()  # the snapshot holds none

    def pending() -> int:
        return StripeEvent.objects.filter(status__in=["received", "failed", "processing"]).count()

    # The clock stops when the worker says so, in memory: the no-op task that makes n done, the
    # drain's batch that makes n events committed (``events_process_batch`` returns after its
    # transactions commit). No polling on either side: a 20 ms poll (and the drain side's COUNT
    # in it) was a coarse clock for runs of 40 to 100 ms.
    done = {"n": 0, "batched": 0}
    done_lock = threading.Condition()

    @app.task(name="bench.noop", ignore_result=True)
    def noop(event_id: str) -> None:
        with done_lock:
            done["n"] += 1
            done_lock.notify_all()

    original_batch = processing.events_process_batch

    def process_batch(*, events):
        try:
            return original_batch(events=events)
        finally:
            with done_lock:
                done["batched"] += len(events)
                done_lock.notify_all()

    processing.events_process_batch = process_batch

    def fence() -> None:
        """Wait until the worker ran everything queued before (solo pool, one FIFO queue)."""
        target = done["n"] + 1
        noop.apply_async(args=["fence"])
        with done_lock:
            assert done_lock.wait_for(lambda: done["n"] >= target, timeout=300)

    holding, release = threading.Event(), threading.Event()

    @app.task(name="bench.hold", ignore_result=True)
    def hold() -> None:
        holding.set()
        release.wait(timeout=300)

    def baseline(n: int) -> float:
        """The worker runs n no-op tasks queued while it was held: all of them are in the queue
        when the clock starts, as the stored events are when the drain's does."""
        app.control.purge()
        done["n"] = 0
        holding.clear()
        release.clear()
        hold.apply_async()
        assert holding.wait(timeout=60)
        with app.producer_or_acquire() as producer:
            for i in range(n):
                noop.apply_async(args=[f"evt_{i}"], producer=producer)
        began = time.perf_counter()
        release.set()
        with done_lock:
            assert done_lock.wait_for(lambda: done["n"] >= n, timeout=300)
        return n / (time.perf_counter() - began)

    def drain(n: int) -> float:
        with done_lock:
            done["batched"] = 0
        began = time.perf_counter()
        services.drain_soon()
        with done_lock:
            assert done_lock.wait_for(lambda: done["batched"] >= n, timeout=300)
        rate = n / (time.perf_counter() - began)
        # The drain's linger, the emails and the fee recording it queued, not timed: the first
        # fence waits for the drain task (which may still be queueing), the second for what it
        # queued.
        fence()
        fence()
        assert not pending(), "events left after the drain's batches"
        failed = StripeEvent.objects.exclude(status__in=["succeeded", "ignored"]).count()
        assert not failed, f"{failed} events did not succeed"
        return rate

    # Counting (separate, untimed passes): statements and Stripe requests per event, by type.
    per_type: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])  # ours, sandbox, req, n
    per_group: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])  # the same, per sale ...
    # Units as each size's flows make them (a payout paid within the 2N flows only is a "paid
    # payout" there, a payout still in transit at N).
    unit_of = {"N": _flow_groups(flows_n), "2N": _flow_groups(flows_2n)}
    groups = unit_of["N"]
    handler_seconds: dict[str, float] = defaultdict(float)  # wall time in the handler, by type
    batch_total = [0, 0]  # every statement of the drain task: ours, sandbox
    # Every Stripe request of the drain task and of what it queued (the fee recording), counted
    # until the fences after it.
    drain_requests = [0]
    counting = {"on": False}
    original_run, original_drain = processing._event_run_handler, processing.events_drain

    shown = {"done": False}

    # Statements the in-process sandbox runs while it answers a request are Stripe's side.
    from sandbox.client import SandboxHTTPClient

    in_sandbox = threading.local()
    original_request = SandboxHTTPClient.request

    def sandbox_request(self, *a, **kw):
        in_sandbox.depth = getattr(in_sandbox, "depth", 0) + 1
        try:
            return original_request(self, *a, **kw)
        finally:
            in_sandbox.depth -= 1

    SandboxHTTPClient.request = sandbox_request  # type: ignore[method-assign]
    stripe_gateway.reset_client()  # the gateway wraps the client it builds: build it again

    def counter(slot: list[int], offset: int, show: bool = False):
        def wrapper(execute, sql, params, many, context):
            stripe_side = getattr(in_sandbox, "depth", 0) > 0 or '"sandbox_' in sql
            slot[offset + (1 if stripe_side else 0)] += 1
            if show:
                print("   ", sql[:300], file=sys.stderr)
            return execute(sql, params, many, context)

        return wrapper

    def run_handler(*, event, together=None, **kwargs):
        if not counting["on"]:
            return original_run(event=event, together=together, **kwargs)
        members = [event, *(together or [])]
        for member in members:  # every event counts; the cost goes to the one whose handler ran
            per_type[member.type][3] += 1
        group = per_group[groups.get(event.stripe_id, f"other {event.type}")]
        group[3] += len(members)
        show = event.type == args.show_sql and not shown["done"]
        if show:
            shown["done"] = True
            print(f"  SQL of {event.stripe_id} ({event.type}):", file=sys.stderr)
        unit = [0, 0, 0]
        with (
            stripe_traffic.recording() as recorder,
            connection.execute_wrapper(counter(unit, 0, show)),
        ):
            began = time.perf_counter()
            outcome = original_run(event=event, together=together, **kwargs)
            handler_seconds[event.type] += time.perf_counter() - began
        unit[2] = len(recorder)
        for i in range(3):
            per_type[event.type][i] += unit[i]
            group[i] += unit[i]
        return outcome

    def events_drain(**kwargs):
        if not counting["on"]:
            return original_drain(**kwargs)
        with connection.execute_wrapper(counter(batch_total, 0)):
            return original_drain(**kwargs)

    processing._event_run_handler = run_handler
    processing.events_drain = events_drain

    app.conf.task_always_eager = False
    app.control.purge()  # the wake-ups sent while the flows were recorded
    rates: dict[str, list[float]] = {"noop": [], "drain": []}
    prints: list[Counter[tuple[Any, ...]]] = []
    counts: dict[str, tuple[dict[str, list[int]], list[int], int]] = {}
    # Stripe requests made outside handlers (the task the drain queues for Stripe's fees of a
    # batch's charges, listed at once), by size.
    outside: dict[str, int] = {}
    unit_counts: dict[str, dict[str, list[int]]] = {}
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=60):
        for r in range(args.rounds + 1):  # round 0 warms up
            seed = args.seed + r
            n = store(flows_n, seed)
            print(f"  round {r}: {n} events stored", file=sys.stderr, flush=True)
            noop_rate = baseline(n)
            drain_rate = drain(n)
            if r:
                rates["noop"].append(noop_rate)
                rates["drain"].append(drain_rate)
            prints.append(_fingerprint())
        for label, flows in (("N", flows_n), ("2N", flows_2n)):
            n = store(flows, args.seed)
            per_type.clear()
            per_group.clear()
            groups = unit_of[label]
            handler_seconds.clear()
            batch_total[:] = [0, 0]
            counting["on"] = True
            with stripe_traffic.recording() as everything:  # all threads: the worker's too
                drain(n)
            drain_requests[0] = len(everything)
            counting["on"] = False
            counts[label] = ({k: list(v) for k, v in per_type.items()}, list(batch_total), n)
            outside[label] = drain_requests[0] - sum(v[2] for v in per_type.values())
            unit_counts[label] = {k: list(v) for k, v in per_group.items()}
            if label == "N":
                spent = dict(handler_seconds)
            if label == "N":
                # 15% replayed (at-least-once delivery, an operator's replay): nothing changes.
                ids = list(StripeEvent.objects.order_by("?").values_list("id", flat=True))
                services.events_replay(event_ids=ids[: len(ids) * 15 // 100])
                fence()
                while pending():
                    time.sleep(0.01)
                fence()
                prints.append(_fingerprint())
    processing._event_run_handler, processing.events_drain = original_run, original_drain
    processing.events_process_batch = original_batch

    def mmm(values: list[float]) -> str:
        return f"{min(values):7.0f} {statistics.median(values):7.0f} {max(values):7.0f}"

    n_events = counts["N"][2]
    print(f"{args.rounds} interleaved rounds of {n_events} events, per second: min / median / max")
    print(f"  baseline (no-op Celery task per event): {mmm(rates['noop'])}")
    print(f"  pipeline (drain, real handlers):        {mmm(rates['drain'])}")
    ratio = statistics.median(rates["drain"]) / statistics.median(rates["noop"])
    per_round = [d / b for d, b in zip(rates["drain"], rates["noop"], strict=True)]
    print(
        f"ratio of medians pipeline/baseline: {ratio:.2f} (target >= {TARGET}); per round "
        f"min {min(per_round):.2f} max {max(per_round):.2f}"
    )
    print(
        "per event, by type: our SQL statements (savepoints included) / the sandbox's own "
        "(Stripe's side) / Stripe requests, at N and at 2N"
    )
    header = f"  {'type':34} {'n@N':>5} {'ours':>5} {'sbx':>5} {'req':>5} | {'n@2N':>5} "
    print(header + f"{'ours':>5} {'sbx':>5} {'req':>5}")
    constant = True
    all_types = sorted(set(counts["N"][0]) | set(counts["2N"][0]))
    for event_type in all_types:
        cells = []
        figures = []
        for label in ("N", "2N"):
            ours, sbx, req, n = counts[label][0].get(event_type, [0, 0, 0, 0])
            figure = (ours / max(n, 1), sbx / max(n, 1), req / max(n, 1))
            figures.append(figure)
            cells.append(f"{n:5d} {figure[0]:5.2f} {figure[1]:5.2f} {figure[2]:5.2f}")
        seen = all(counts[label][0].get(event_type, [0, 0, 0, 0])[3] for label in ("N", "2N"))
        same = not seen or all(abs(a - b) < 0.51 for a, b in zip(*figures, strict=True))
        suffix = "" if handler_for(event_type) else "  (no handler: ignored)"
        # The first event of a charge to arrive reads it and records all its movements; the
        # others find them recorded: per type, figures move with the arrival order.
        note = "" if same else "  (varies with arrival order)"
        print(f"  {event_type:34} {cells[0]} | {cells[1]}{suffix}{note}")
    totals = []
    for label in ("N", "2N"):
        rows = counts[label][0].values()
        n = sum(v[3] for v in rows)
        totals.append(tuple(sum(v[i] for v in rows) / max(n, 1) for i in range(3)))
        print(
            f"  {'all events at ' + label:34} {n:5d} {totals[-1][0]:5.2f} {totals[-1][1]:5.2f} "
            f"{totals[-1][2]:5.2f}"
        )
    print(
        "  Stripe requests outside handlers (the fee recording the drain queued: lists): "
        f"{outside['N']} at N, {outside['2N']} at 2N"
    )
    for label in ("N", "2N"):
        sales = [v for k, v in unit_counts[label].items() if k.startswith("sale ")]
        in_sales = sum(v[2] for v in sales)
        print(
            f"  Stripe requests per sale at {label}, its handlers' and the fee lists': "
            f"{(in_sales + outside[label]) / max(len(sales), 1):.2f} ({len(sales)} sales)"
        )
    print(
        "per unit of work (a sale's events, a refund's, a payout's, an account's: summed, since "
        "the events of one sale share its cost by arrival order, and those of one batch are "
        "handled together): units, then statements ours / sbx and Stripe requests per unit"
    )
    print(
        header.replace("type", "unit").replace("n@N", "u@N").replace("n@2N", "u@2N")
        + (f"{'ours':>5} {'sbx':>5} {'req':>5}")
    )
    constant = True
    kinds = sorted(
        {
            k.rsplit(" ", 1)[0]
            for label in ("N", "2N")
            for k in unit_counts[label]
            if not k.startswith("ignored ")
        }
    )
    for kind in kinds:
        cells, figures, sizes = [], [], []
        for label in ("N", "2N"):
            units = [v for k, v in unit_counts[label].items() if k.rsplit(" ", 1)[0] == kind]
            sizes.append(len(units))
            figure = tuple(sum(v[i] for v in units) / max(len(units), 1) for i in range(3))
            figures.append(figure)
            cells.append(f"{len(units):5d} {figure[0]:5.2f} {figure[1]:5.2f} {figure[2]:5.2f}")
        both = all(sizes)
        same = not both or all(
            abs(a - b) <= 0.15 * max(a, b, 1.0) for a, b in zip(*figures, strict=True)
        )
        constant = constant and same
        note = "" if same else "  (NOT constant)"
        print(f"  {kind:34} {cells[0]} | {cells[1]}{note or ('' if both else '  (one size only)')}")
    constant = constant and all(
        abs(a - b) <= 0.15 * max(a, b, 1.0) for a, b in zip(totals[0], totals[1], strict=True)
    )
    for label in ("N", "2N"):
        per_event_total = sum(v[0] for v in counts[label][0].values())
        outside = counts[label][1][0] - per_event_total
        print(
            f"  claim, batch transaction, finish and the drain's look-ups at {label}: "
            f"{outside / counts[label][2]:.2f} statements per event"
        )
    print(
        "time in the handlers at N (counted pass), ms per event: "
        + ", ".join(
            f"{t} {1000 * v / counts['N'][0][t][3]:.1f}"
            for t, v in sorted(spent.items(), key=lambda kv: -kv[1])
            if v
        )
    )
    same_state = all(p == prints[0] for p in prints)
    for i, other in enumerate(prints[1:], 1):
        for row in sorted(set((prints[0] - other) + (other - prints[0])), key=str)[:8]:
            print(f"  differs (run 0 vs {i}): {row}")
    print(
        f"final state (sellers, buyers, payouts rows without ids/timestamps): {len(prints)} runs "
        f"in different arrival orders, one with 15% replayed -> "
        f"{'identical' if same_state else 'DIFFERENT'}"
    )
    print(
        "statements and requests per unit of work and per event constant from N to 2N "
        f"(within 15%): {'yes' if constant else 'NO'}"
    )
    return 0 if same_state and constant else 1


if __name__ == "__main__":
    import faulthandler
    import signal

    faulthandler.register(signal.SIGUSR1)  # kill -USR1 <pid>: every thread's stack, to stderr
    sys.exit(run(sys.argv[1:]))
