"""Benchmark: renewing subscriptions in one sandbox day, through the event pipeline.

Set-up: one seller, one monthly plan, ``--subscriptions`` N subscribers imported as an
integration moving existing subscribers would: per subscriber a card PaymentMethod, a Customer
with it as default, ``POST /v1/subscriptions`` (the seller as ``transfer_data.destination``,
``application_fee_percent`` from the fee rules, metadata naming our row) through the SDK; our
rows only mirror Stripe's answers and are written in bulk (``subscription_mirror``); the
import's own events are not delivered (endpoints disabled meanwhile). Then the sandbox clock
moves a month: the sandbox renews every subscription the same day (invoice created, finalized,
paid: its destination charge, transfer and fee), queuing the signed webhooks. Measured:

- the sandbox's renewal (time, its SQL per renewal: Stripe's side, for scale);
- intake: every renewal webhook POSTed (signed) to /stripe/webhook/ and stored (the drain that
  follows each is held back);
- handling: the stored events drained once with the real handlers (subscriptions, payouts'
  ledger ...): the first pass, with its Stripe requests and our SQL queries per renewal (the
  in-process sandbox's own queries answering those requests counted apart), against the same
  events drained with every handler a no-op; then re-runs of the real handlers (duplicates:
  nothing new to learn) interleaved with no-op drains (min / median / max events/s, ratio);
- the same at 2N (a second cohort imported, a second month renewing both): per renewal figures
  that agree between N and 2N are constant.

``python -m bench subscription_renewals -- --subscriptions 300`` (default 50). Uses a
throw-away SQLite file, or BENCH_DATABASE_URL (PostgreSQL). For 10,000 renewing the same
sandbox day on a small machine: ``-- --subscriptions 5000 --workers 2 --intake-sample 5000
--rounds 1`` (the second month renews both cohorts: 10,000). ``--workers`` forks processes for
the import only (set-up); ``--intake-sample K`` posts the first K renewal webhooks through
intake, signed, and times them, then stores the rest with ``event_store`` (intake's own storage
function; their sandbox deliveries marked delivered): the sandbox's delivery bookkeeping, not
ours, is most of a posted webhook's cost. ``--drain-workers`` drains in forked processes (as
Celery's prefork pool) for both drains alike; the figures below drain in-process (a solo
worker).

Measured 2026-11-28, PostgreSQL, the 2-core machine shared with other work (load 1.4-3),
``--subscriptions 5000 --workers 2 --intake-sample 5000 --rounds 1``, 67 min in all:

- month 1, 5,000 renewing: set-up 504 s (0.10 s a subscriber, two import processes); the
  sandbox renewed them in 375 s (0.075 s each, 73 of its SQL queries each); 50,004 events
  (10.0 per renewal); intake of 5,000 posted 53 deliveries/s (10.0 of our SQL queries per
  renewal, 100 of the sandbox's delivering); handlers' first pass 207 events/s = 0.07 x the
  no-op median, 29.2 of our SQL queries and 2.00 Stripe requests per renewal (15.0 SQL queries
  of the sandbox answering them); re-run 749 events/s against no-op 1019 / 2802 / 4342 (0.27).
- month 2, **10,000 renewing the same sandbox day**: set-up of the second 5,000 914 s; the
  sandbox renewed 10,000 in 593 s (0.059 s each); 100,005 events; intake 92 deliveries/s;
  first pass 265 events/s = 0.06 x the no-op median, 29.2 of our SQL queries and 2.00 Stripe
  requests per renewal; re-run 717 events/s against no-op 3561 / 4579 / 4872 (0.16).
- per renewal, 5,000 -> 10,000: our SQL (intake + handlers) 39.2 -> 39.2, handlers alone
  29.2 -> 29.2, Stripe requests 2.00 -> 2.00; no failed or dead event. Per handler (mean, the
  sandbox's included): ``charge.succeeded`` 18 (the ledger and its charge read),
  ``invoice.paid`` 16 (the expanded invoice read), ``invoice.created`` 4,
  ``invoice.payment_succeeded`` 2, ``invoice.finalized`` 2 (one more each than at N=300 below:
  the subscription's lock taken first, the order that keeps two workers from deadlocking).
- against the earlier N=300 figures below, the ledger's share fell from 48 queries per
  ``charge.succeeded`` to 18 (its set-based recording); the no-op drains are faster (4,579
  against 506 events/s, a quieter machine), so the first pass is a smaller fraction of them.
- with ``--drain-workers 2`` (two processes, as a prefork pool of 2), events handled in one
  batch transaction that touch the same rows (the seller's balance, one subscription's
  invoice) can deadlock: PostgreSQL aborts one and the event is retried, ending in the same
  state; the invoice's own two first events no longer collide (lock order, see
  ``subscriptions.services.invoice_sync``).

Measured 2026-11-28 on the shared 2-core machine (busy: other engineers' tests and benchmarks;
ratios are within one run), PostgreSQL, ``--subscriptions 150`` (150 renewing, then 300):

- before (N=10, set-up through Checkout): 10.0 Stripe requests and 313 SQL queries per renewal
  (intake + handlers, the sandbox's included), every ``invoice.*`` event re-reading the
  invoice and the subscription, ``invoice.paid`` the charge's Invoice Payment and the ledger
  the charge again; re-run real / no-op 0.05 (38-57 vs 701-793 events/s); set-up 1.4 s and
  the sandbox's renewal 0.46 s per subscriber; each in-process webhook delivery rebuilt the
  middleware (WhiteNoise rescanning the static files: about 1 s per delivery).
- after, 150 -> 300: Stripe requests per renewal 2.01 -> 2.00: ``GET /v1/invoices/{id}`` with
  ``expand[]=parent.subscription_details.subscription`` and
  ``expand[]=payments.data.payment.payment_intent`` (``invoice.paid``; its twin
  ``invoice.payment_succeeded`` reads nothing) and ``GET /v1/charges/{id}`` with the balance
  transaction, transfer and fee expanded (the ledger, on ``charge.succeeded``); the .01 is the
  seller's payout events, shared. Our SQL per renewal (intake + handlers) 82.2 -> 81.5
  (handlers 72.1 -> 71.5; of a handler's mean, the sandbox's included: ``charge.succeeded``
  48 (the ledger), ``invoice.paid`` 16, ``invoice.created`` 3, ``invoice.finalized`` 2,
  ``invoice.payment_succeeded`` 1.1); the sandbox's own: 100 per renewal delivering the
  webhooks, 15 answering the 2 requests, 73 renewing.
- handlers, first pass 23 -> 84 events/s = 0.06 x the no-op median both times (short of the
  0.5 target: the first pass is the ledger's recording, 48 queries, and the two in-process
  sandbox requests); re-runs (duplicates) min 72 / median 86 / max 86 against no-op
  294 / 358 / 416 events/s (0.24), at 300: 308 / 331 / 469 against 1216 / 1373 / 2668 (0.24).
- set-up 264 s for 150 (1.8 s each while the machine was busiest), 86 s for the next 150
  (0.57 s); the sandbox renewed 150 in 86 s, 300 in 62 s (0.2 s each); 10,000 would take about
  1.5 h of set-up and 35 min of renewal at the quieter rate: not run here.
- a second run on a quieter machine, ``--subscriptions 300``, month 1: set-up 48 s (0.16 s a
  subscriber), the sandbox renewed 300 in 21 s (0.07 s each); intake 31 events/s; first pass
  34 events/s = 0.07 x no-op, 71.8 of our SQL queries and 2.00 Stripe requests per renewal;
  re-runs 117 / 133 / 146 against no-op 453 / 506 / 750 events/s (0.26). At that rate 10,000
  would need about 27 min of set-up, 12 of renewal, then about 55 of intake (100,000
  webhooks at ~30/s, the sandbox's delivery bookkeeping most of it) and 50 of handling.
  Month 2 (600 renewing; the machine busier again): set-up 215 s, the sandbox renewed 600 in
  161 s; first pass 71 events/s = 0.06 x no-op; re-runs 237 / 324 / 451 against no-op
  843 / 1105 / 1221 (0.29); per renewal 300 -> 600: our SQL 81.8 -> 81.5 (handlers 71.8 ->
  71.5), Stripe requests 2.00 -> 2.01; no failed events.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections import Counter
from unittest import mock

ROUNDS = 3


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--subscriptions", type=int, default=50)
    parser.add_argument(
        "--cohorts",
        type=int,
        choices=(1, 2),
        default=2,
        help="2 (default): a second cohort and month renewing 2N; 1: one month of N only",
    )
    parser.add_argument(
        "--rounds", type=int, default=ROUNDS, help="re-runs of the real handlers (duplicates)"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="processes importing the subscribers (set-up only)",
    )
    parser.add_argument(
        "--drain-workers",
        type=int,
        default=1,
        help="processes draining the events, each its own connection (as Celery's prefork "
        "pool; both drains alike); 1: in-process, as a solo worker",
    )
    parser.add_argument(
        "--intake-sample",
        type=int,
        default=0,
        help="post only this many renewal webhooks through intake (timed); store the rest "
        "with the function intake stores with (0: post them all)",
    )
    args = parser.parse_args(argv)
    n = max(10, args.subscriptions)
    workers = max(1, args.workers)
    drain_workers = max(1, args.drain_workers)

    import os

    from bench import _django

    # The sandbox's hosted Checkout answers the in-process test client (as in `make demo`).
    os.environ["SANDBOX_HTTP_OPEN"] = "1"
    os.environ["EMAIL_BACKEND"] = "django.core.mail.backends.locmem.EmailBackend"
    where = _django.setup("subscription_renewals")
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.db import connection, connections
    from django.test.utils import override_settings

    from bench._fixtures import new_user, onboarded_account
    from marketplace import stripe_gateway
    from marketplace.events.models import StripeEvent
    from marketplace.events.registry import handler_for, handlers_replaced, registered_types
    from marketplace.events.services import intake as services_intake
    from marketplace.events.services import processing, wakeup, webhook_endpoints_ensure_sandbox
    from sandbox import delivery, testing
    from sandbox.models import Delivery, RequestLog, SandboxObject
    from sellers.models import Listing, Seller
    from subscriptions import services
    from subscriptions.models import Subscription

    overrides = override_settings(
        STRIPE_SANDBOX=True,
        SITE_URL="http://testserver",
        SANDBOX_WEBHOOK_DELIVERY="manual",
        CELERY_TASK_ALWAYS_EAGER=True,
    )
    overrides.enable()
    stripe_gateway.reset_client()
    webhook_endpoints_ensure_sandbox()
    print(f"database: {where}; sandbox in-process; {n} subscribers per cohort")

    seller = Seller.objects.create(
        user=new_user(),
        display_name="Bench club",
        slug="bench-club",
        country="FR",
        stripe_account_id=onboarded_account(name="Bench club"),
        charges_enabled=True,
    )
    listing = Listing.objects.create(
        seller=seller,
        title="Bench club",
        price_amount=1000,
        currency="eur",
        stock=None,
        status=Listing.Status.PUBLISHED,
    )
    plan = services.plan_create(
        seller=seller,
        listing_id=listing.pk,
        data=services.PlanInput(name="Monthly", amount=1000, interval="month"),
    )

    def drain() -> None:
        while processing.events_drain(batch_size=200).processed:
            pass

    def in_workers(work, items: list, workers: int) -> list:
        """``work(slice)`` over ``items`` in ``workers`` forked processes (each opens its own
        database connection, as Celery's prefork workers do); their results, in a list."""
        if workers <= 1:
            return [work(items)]
        import multiprocessing

        connections.close_all()
        context = multiprocessing.get_context("fork")
        results = context.Queue()

        def child(part: list) -> None:
            try:
                results.put(("ok", work(part)))
            except BaseException as exc:
                results.put(("error", f"{type(exc).__name__}: {exc}"))
            finally:
                connections.close_all()

        processes = [
            context.Process(target=child, args=(items[i::workers],)) for i in range(workers)
        ]
        for process in processes:
            process.start()
        answers = [results.get() for _ in processes]
        for process in processes:
            process.join()
        errors = [value for status, value in answers if status == "error"]
        if errors:
            raise RuntimeError(f"a worker failed: {errors}")
        return [value for _, value in answers]

    sdk = testing.stripe_client()
    percent = services.fee_percent(plan=plan)
    User = get_user_model()

    def endpoints_enabled(enabled: bool) -> None:
        for endpoint in sdk.v1.webhook_endpoints.list({"limit": 100}).auto_paging_iter():
            sdk.v1.webhook_endpoints.update(endpoint.id, {"disabled": not enabled})

    def subscribe_cohort(start: int) -> float:
        """N subscriptions imported, as an integration moving existing subscribers would: for
        each, a card PaymentMethod, a Customer with it as default, and ``POST /v1/subscriptions``
        (the seller as ``transfer_data.destination``, the fee percentage, metadata naming our
        row); our rows only mirror Stripe's answers, written in bulk. The import's own events
        are not delivered (the endpoints are disabled meanwhile): the benchmark is the renewal."""
        began = time.perf_counter()
        endpoints_enabled(False)
        users = User.objects.bulk_create(
            [
                User(username=f"sub{i}", email=f"sub{i}@example.com", password="!")
                for i in range(start, start + n)
            ]
        )
        rows = Subscription.objects.bulk_create(
            [
                Subscription(
                    buyer=user,
                    plan=plan,
                    seller=seller,
                    currency=plan.currency,
                    application_fee_percent=percent,
                    amount=plan.amount,
                    interval=plan.interval,
                )
                for user in users
            ]
        )
        fields = [
            f.name
            for f in Subscription._meta.concrete_fields
            if not f.primary_key and f.name not in ("buyer", "created_at")
        ]

        def import_part(pairs: list) -> int:
            for i, (user, row) in enumerate(pairs):
                pm = sdk.v1.payment_methods.create({"type": "card", "card": {"token": "tok_visa"}})
                customer = sdk.v1.customers.create(
                    {
                        "email": user.email,
                        "payment_method": pm.id,
                        "invoice_settings": {"default_payment_method": pm.id},
                    },
                    options={"idempotency_key": f"bench-customer-{user.pk}"},
                )
                created = sdk.v1.subscriptions.create(
                    {
                        "customer": customer.id,
                        "items": [{"price": plan.stripe_price_id, "quantity": 1}],
                        "application_fee_percent": float(percent),
                        "transfer_data": {"destination": seller.stripe_account_id},
                        "metadata": {"subscription_id": str(row.pk)},
                    },
                    options={"idempotency_key": f"bench-subscription-{row.pk}"},
                )
                row.stripe_customer_id = customer.id
                services.subscription_mirror(row, stripe_gateway.Subscription.from_stripe(created))
                if i % 500 == 499:
                    took = time.perf_counter() - began
                    print(f"  ... {(i + 1) * workers} subscribed ({took:.0f} s)", flush=True)
            Subscription.objects.bulk_update([row for _, row in pairs], fields, batch_size=500)
            return len(pairs)

        imported = sum(in_workers(import_part, list(zip(users, rows, strict=True)), workers))
        assert imported == n, imported
        testing.deliver_pending()  # nothing queued while the endpoints were disabled
        endpoints_enabled(True)
        return time.perf_counter() - began

    def last_request_id() -> int:
        return RequestLog.objects.order_by("-id").values_list("id", flat=True).first() or 0

    class Counted:
        """SQL queries run in the block."""

        def __init__(self) -> None:
            self.queries = 0
            self.sandbox = 0  # of which the in-process sandbox's own (its tables)

        def __call__(self, execute, sql, params, many, context):
            self.queries += 1
            if '"sandbox_' in sql:
                self.sandbox += 1
            return execute(sql, params, many, context)

    def registry() -> dict:
        return {t: handler_for(t) for t in registered_types() if handler_for(t) is not None}

    def rate(ids: list[int], handlers: dict | None, *, count: bool = False) -> tuple[float, dict]:
        """Events per second of one drain of the stored events ``ids`` (by ``workers``
        processes), and, with ``count``, the SQL queries its handlers ran (per event type)."""
        StripeEvent.objects.filter(id__in=ids).update(
            status=StripeEvent.Status.RECEIVED,
            attempts=0,
            next_attempt_at=None,
            processed_at=None,
        )

        def work(_part: list) -> dict:
            counter = Counted()
            per_type: dict[str, list[int]] = {}

            def counted(handler):
                def run(event):
                    before = counter.queries
                    handler(event)
                    per_type.setdefault(event.type, []).append(counter.queries - before)

                return run

            table = handlers
            if count:
                table = {t: counted(h) for t, h in (handlers or registry()).items()}
            if table is None:
                drain()
            else:
                with handlers_replaced(table), connection.execute_wrapper(counter):
                    drain()
            return {"queries": counter.queries, "sandbox": counter.sandbox, "per_type": per_type}

        began = time.perf_counter()
        parts = in_workers(work, list(range(drain_workers)), drain_workers)
        took = time.perf_counter() - began
        merged: dict = {"queries": 0, "sandbox": 0, "per_type": {}}
        for part in parts:
            merged["queries"] += part["queries"]
            merged["sandbox"] += part["sandbox"]
            for kind, values in part["per_type"].items():
                merged["per_type"].setdefault(kind, []).extend(values)
        return len(ids) / took, merged

    def receive() -> tuple[float, int, int, int]:
        """The renewal webhooks posted, signed, to our endpoints and stored by intake (the
        drain that follows each is held back); with ``--intake-sample K`` only the first K are
        posted (timed) and the rest stored by ``event_store``, the function intake stores with
        (their sandbox deliveries are then marked delivered). Returns deliveries/s of the posted
        ones, how many were posted, our queries and the sandbox's for them."""
        pending = testing.pending_deliveries()
        posted = pending[: args.intake_sample] if args.intake_sample else pending
        rest = pending[len(posted) :]
        intake = Counted()

        def post(part: list) -> int:
            with connection.execute_wrapper(intake):
                for item in part:
                    delivery.attempt(item.pk, force=True)
            return len(part)

        began = time.perf_counter()
        with mock.patch.object(wakeup, "_wake_now", lambda: None):
            post(posted)
        took = time.perf_counter() - began
        if rest:
            urls = {
                row.pk: str(row.data.get("url", ""))
                for row in SandboxObject.objects.filter(pk__in={d.endpoint_id for d in rest})
            }
            for start in range(0, len(rest), 2000):
                chunk = rest[start : start + 2000]
                bodies = dict(
                    SandboxObject.objects.filter(pk__in=[d.event_id for d in chunk]).values_list(
                        "id", "data"
                    )
                )
                for item in chunk:
                    connect = urls[item.endpoint_id].rstrip("/").endswith("/webhook/connect")
                    services_intake.event_store(
                        event=bodies[item.event_id],
                        source=StripeEvent.Source.CONNECT
                        if connect
                        else StripeEvent.Source.PLATFORM,
                    )
            Delivery.objects.filter(pk__in=[d.pk for d in rest]).update(
                status=Delivery.Status.SUCCEEDED, next_attempt_at=None
            )
        return len(posted) / took, len(posted), intake.queries - intake.sandbox, intake.sandbox

    def renew_month() -> dict:
        """One month on the sandbox clock; the renewal webhooks received (stored by intake),
        then handled, with no-op drains of the same events interleaved."""
        first_new = StripeEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
        began = time.perf_counter()
        sandbox_sql = Counted()
        with connection.execute_wrapper(sandbox_sql):
            # A month and two hours: the renewal drafts of both cohorts finalized (an hour).
            testing.advance(days=31, hours=2)
        renewed_in = time.perf_counter() - began
        deliveries = len(testing.pending_deliveries())
        intake_rate, posted, intake_queries, intake_sandbox = receive()
        ids = list(StripeEvent.objects.filter(id__gt=first_new).values_list("id", flat=True))
        noop = {t: (lambda event: None) for t in registry()}
        noop_rates = [rate(ids, noop)[0]]
        # By id: the sandbox's housekeeping trims old request logs.
        requests_before = last_request_id()
        first_rate, handling = rate(ids, registry(), count=True)
        stripe_requests = last_request_id() - requests_before
        rerun_rates = []
        for _ in range(args.rounds):
            noop_rates.append(rate(ids, noop)[0])
            rerun_rates.append(rate(ids, None)[0])
        noop_rates.append(rate(ids, noop)[0])
        if args.rounds:
            rate(ids, None)  # the last drain was a no-op: the real handlers last
        live = Subscription.objects.filter(status="active").count()
        failed = StripeEvent.objects.exclude(status__in=["succeeded", "ignored"]).count()
        scale = deliveries / posted if posted else 1.0
        return {
            "events": len(ids),
            "deliveries": deliveries,
            "posted": posted,
            "sandbox_s": renewed_in,
            "sandbox_queries": sandbox_sql.queries,
            "intake_rate": intake_rate,
            # Per renewal, our intake queries scale with the deliveries (one row each).
            "intake_queries": intake_queries * scale,
            "intake_sandbox": intake_sandbox * scale,
            "handler_queries": handling["queries"] - handling["sandbox"],
            "handler_sandbox": handling["sandbox"],
            "stripe_requests": stripe_requests,
            "first_rate": first_rate,
            "rerun_rates": rerun_rates,
            "noop_rates": noop_rates,
            "renewals": live,
            "failed": failed,
            "per_type": handling["per_type"],
            "kinds": Counter(StripeEvent.objects.filter(id__in=ids).values_list("type", flat=True)),
        }

    def line(name: str, rates: list[float]) -> str:
        return (
            f"{name}: min {min(rates):.0f} / median {statistics.median(rates):.0f} / "
            f"max {max(rates):.0f} events/s"
        )

    def report(month: int, setup_s: float, got: dict) -> None:
        renewals = got["renewals"]
        print(
            f"month {month}: {renewals} subscriptions (set-up {setup_s:.0f} s); the sandbox "
            f"renewed them in {got['sandbox_s']:.1f} s "
            f"({got['sandbox_queries'] / renewals:.0f} SQL queries per renewal); "
            f"{got['events']} events "
            f"({got['events'] / renewals:.1f} per renewal: "
            + ", ".join(f"{t} {c}" for t, c in got["kinds"].most_common())
            + ")"
        )
        print(
            f"  intake: {got['intake_rate']:.0f} deliveries/s "
            f"({got['posted']} of {got['deliveries']} posted), "
            f"{got['intake_queries'] / renewals:.1f} SQL queries per renewal (and "
            f"{got['intake_sandbox'] / renewals:.1f} of the sandbox delivering them)"
        )
        noop_median = statistics.median(got["noop_rates"])
        print(
            f"  handlers, first pass: {got['first_rate']:.0f} events/s = "
            f"{got['first_rate'] / noop_median:.2f} x the no-op median; "
            f"{got['handler_queries'] / renewals:.1f} SQL queries and "
            f"{got['stripe_requests'] / renewals:.2f} Stripe requests per renewal (and "
            f"{got['handler_sandbox'] / renewals:.1f} SQL queries of the sandbox answering them)"
        )
        print(
            "    SQL queries of each handler (mean per event, the sandbox's included): "
            + ", ".join(
                f"{t} {sum(q) / len(q):.1f}"
                for t, q in sorted(got["per_type"].items(), key=lambda kv: -sum(kv[1]))
            )
        )
        print("  " + line("handlers re-run (duplicates)", got["rerun_rates"]))
        print("  " + line("no-op handlers (baseline)", got["noop_rates"]))
        print(
            f"  ratio re-run / no-op (medians): "
            f"{statistics.median(got['rerun_rates']) / noop_median:.2f}"
        )

    setup = subscribe_cohort(0)
    first = renew_month()
    assert first["renewals"] == n, first
    report(1, setup, first)
    if args.cohorts == 1:
        overrides.disable()
        stripe_gateway.reset_client()
        print(f"failed or dead events: {first['failed']}")
        return 0 if first["failed"] == 0 else 1
    setup2 = subscribe_cohort(n)
    second = renew_month()
    assert second["renewals"] == 2 * n, second
    report(2, setup2, second)
    print(
        f"per renewal, {n} -> {2 * n} subscriptions: our SQL queries (intake + handlers) "
        f"{(first['intake_queries'] + first['handler_queries']) / n:.1f} -> "
        f"{(second['intake_queries'] + second['handler_queries']) / (2 * n):.1f}; "
        f"handlers alone {first['handler_queries'] / n:.1f} -> "
        f"{second['handler_queries'] / (2 * n):.1f}; Stripe requests "
        f"{first['stripe_requests'] / n:.2f} -> {second['stripe_requests'] / (2 * n):.2f}"
    )
    failed = first["failed"] + second["failed"]
    print(f"failed or dead events: {failed}")
    overrides.disable()
    stripe_gateway.reset_client()
    del settings
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv[1:]))
