"""Benchmark 2: draining stored events with one Celery worker, against the same worker running
no-op tasks.

Workload: the intake benchmark's events (mixed types, duplicates, out of order). Each handler
does what the apps' handlers do: lock the object's row, skip the event if it is older than the
state applied (``event_is_stale``), write the new state. Baseline in the same run: the same
worker (Celery, Redis broker, solo pool, acks_late) executing one no-op task per event.
Prints both rates and the ratio (target >= 0.5), SQL queries per event per type, and checks that
the final state is identical whatever the order and duplication of the deliveries.
"""

from __future__ import annotations

import random
import sys
import threading
import time
from collections import defaultdict

from bench import _events_common as common


def main(argv: list[str]) -> int:
    args = common.parse_args(argv, __doc__ or "")
    reason = common.require_services()
    if reason:
        print(f"events_processing {reason}")
        return 0
    common.setup_django()
    from celery.contrib.testing.worker import start_worker
    from django.db import connection

    from marketplace.celery import app
    from marketplace.events import services
    from marketplace.events.handling import event_is_stale
    from marketplace.events.models import StripeEvent
    from marketplace.events.registry import handlers_replaced
    from marketplace.events.services import processing

    def apply_object_state(event: StripeEvent) -> None:
        obj = event.data_object
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {common.STATE_TABLE} (object_id, version, applied_created) "
                "VALUES (%s, 0, 'epoch') ON CONFLICT (object_id) DO NOTHING",
                [obj["id"]],
            )
            cursor.execute(
                f"SELECT applied_created FROM {common.STATE_TABLE} WHERE object_id = %s FOR UPDATE",
                [obj["id"]],
            )
            (applied_at,) = cursor.fetchone()
            if event_is_stale(event=event, applied_at=applied_at):
                return
            cursor.execute(
                f"UPDATE {common.STATE_TABLE} SET version = %s, applied_created = %s "
                "WHERE object_id = %s",
                [obj["version"], event.created, obj["id"]],
            )

    handlers = {t: apply_object_state for t, _, _ in common.EVENT_TYPES if t != "sellerx.unknown"}

    done = {"n": 0}
    done_lock = threading.Lock()

    @app.task(name="bench.noop", ignore_result=True)
    def noop(event_id: str) -> None:
        with done_lock:
            done["n"] += 1

    workload = common.make_workload(args.events, seed=args.seed)
    unique = list(workload.events.values())
    print(
        f"workload: {len(unique)} stored events of {len(common.EVENT_TYPES)} types "
        f"(1 without handler), from {len(workload.deliveries)} deliveries with "
        f"{workload.duplicates} duplicates and {workload.out_of_order} out of order; "
        "handlers lock the object's row and move its state only forward"
    )
    print("worker: one Celery worker, solo pool, Redis broker, acks_late, prefetch 1")

    def store(order: list[dict]) -> None:
        common.reset_tables()
        for event in order:
            services.event_store(
                event=event, source=(event.get("account") and "connect") or "platform"
            )

    def delivery_order(seed: int) -> list[dict]:
        """The events in the order (and with the duplicates) a delivery run stores them."""
        if seed == args.seed:
            return [workload.events[d.stripe_id] for d in workload.deliveries if d.stripe_id]
        shuffled = list(unique)
        random.Random(seed).shuffle(shuffled)
        return shuffled

    # Count SQL statements per event type (the handler's savepoint) and per batch (claim + the
    # group's status UPDATEs), the latter shared by the events of the batch.
    queries: dict[str, list[int]] = defaultdict(lambda: [0, 0])  # type -> [queries, events]
    claim_queries = [0]
    originals = (
        processing._event_run_handler,
        processing.events_claim,
        processing._events_mark_done,
    )

    def counted(counter_add):
        def wrapper(execute, sql, params, many, context):
            counter_add()
            return execute(sql, params, many, context)

        return wrapper

    def run_handler(*, event):
        entry = queries[event.type]
        entry[1] += 1

        def add():
            entry[0] += 1

        with connection.execute_wrapper(counted(add)):
            return originals[0](event=event)

    def add_batch():
        claim_queries[0] += 1

    def claim(**kwargs):
        with connection.execute_wrapper(counted(add_batch)):
            return originals[1](**kwargs)

    def mark_done(done):
        with connection.execute_wrapper(counted(add_batch)):
            return originals[2](done)

    processing._event_run_handler = run_handler
    processing.events_claim = claim
    processing._events_mark_done = mark_done

    def state() -> dict[str, int]:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT object_id, version FROM {common.STATE_TABLE}")
            return dict(cursor.fetchall())

    expected: dict[str, int] = {}
    for event in unique:
        if event["type"] in handlers:
            obj = event["data"]["object"]
            expected[obj["id"]] = max(expected.get(obj["id"], 0), obj["version"])

    def pending() -> int:
        return StripeEvent.objects.filter(status__in=["received", "failed", "processing"]).count()

    app.conf.task_default_queue = "bench-events"
    app.conf.task_always_eager = False
    results: dict[str, float] = {}
    states = []
    with (
        handlers_replaced(handlers),
        start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=30),
    ):
        # Baseline: one no-op task per event, all queued first, then drained by the worker.
        for rounds in range(2):  # a short warm-up round, then the measured one
            n = 300 if rounds == 0 else len(unique)
            done["n"] = 0
            app.control.purge()
            with app.producer_or_acquire() as producer:
                started_publish = time.perf_counter()
                for event in unique[:n]:
                    noop.apply_async(args=[event["id"]], producer=producer)
                publish = time.perf_counter() - started_publish
            started = time.perf_counter()
            while done["n"] < n:
                time.sleep(0.01)
            results["noop"] = n / (time.perf_counter() - started)
        # The pipeline: events stored in delivery order (first run) and shuffled (second run),
        # then replayed with duplicates, woken once, drained in batches by the same worker.
        for run, seed in enumerate([args.seed, args.seed + 1]):
            store(delivery_order(seed))
            if run == 0:
                queries.clear()
                claim_queries[0] = 0
            started = time.perf_counter()
            services.drain_soon()
            while pending():
                time.sleep(0.02)
            elapsed = time.perf_counter() - started
            if run == 0:
                results["drain"] = len(unique) / elapsed
                counts = {t: q / max(e, 1) for t, (q, e) in queries.items()}
                claims = claim_queries[0] / len(unique)
            # Duplicates and late replays of a random 15%: must not change the final state.
            again = random.Random(seed).sample(unique, len(unique) * 15 // 100)
            services.events_replay(
                event_ids=StripeEvent.objects.filter(
                    stripe_id__in=[e["id"] for e in again]
                ).values_list("id", flat=True)
            )
            while pending():
                time.sleep(0.02)
            states.append(state())
    processing._event_run_handler, processing.events_claim, processing._events_mark_done = originals

    print(
        f"baseline (no-op Celery tasks):     {results['noop']:8.0f} tasks/s "
        f"(publishing them took {publish:.1f} s, not counted)"
    )
    print(f"pipeline (drain, real handlers):   {results['drain']:8.0f} events/s")
    ratio = results["drain"] / results["noop"]
    print(f"ratio pipeline/baseline: {ratio:.2f} (target >= 0.5)")
    print(
        "SQL statements per event (savepoint + handler + release), plus "
        f"{claims:.2f} per event for the batch's claim and status UPDATEs:"
    )
    for event_type, count in sorted(counts.items()):
        label = " (no handler: marked ignored)" if event_type not in handlers else ""
        print(f"  {event_type:<28} {count + claims:5.2f}{label}")
    same = states[0] == states[1] == expected
    print(
        f"final state: {len(expected)} objects; delivery order vs shuffled order vs expected "
        f"(highest version per object), both with 15% replays -> {'identical' if same else 'DIFFERENT'}"
    )
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
