"""Benchmark: renewing subscriptions in one sandbox day, through the event pipeline.

Set-up: one seller, one monthly plan, ``--subscriptions`` N buyers subscribed through the
sandbox's Checkout (each a real Stripe-shaped subscription, its events delivered and handled).
Then the sandbox clock moves one month: the sandbox renews every subscription in the same day
(invoice created, finalized, paid, its destination charge, transfer and fee), queuing the
signed webhooks. Measured:

- intake + handling: every renewal webhook POSTed (signed) to /stripe/webhook/, stored, then
  drained by the pipeline with the real handlers (subscriptions, payouts' ledger...).
- handlers against the no-op baseline: the same stored renewal events re-run (status reset,
  ``events_drain``) with the real handlers, then with every handler a no-op, in interleaved
  rounds (min / median / max events per second, ratio of medians).
- SQL queries and Stripe requests per renewal, at N and again at 2N subscriptions (a second
  cohort subscribed, a second month renewed): constant when the two agree.

``python -m bench subscription_renewals -- --subscriptions 300``; default 50: the set-up (N
sandbox Checkouts, each subscription's events handled) dominates the run time, over 10 s per
subscriber on a busy 2-core machine, so 10,000 is out of reach there.
Uses a throw-away SQLite file, or BENCH_DATABASE_URL (PostgreSQL).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections import Counter

ROUNDS = 3


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--subscriptions", type=int, default=50)
    args = parser.parse_args(argv)
    n = max(10, args.subscriptions)

    import os

    from bench import _django

    # The sandbox's hosted Checkout answers the in-process test client (as in `make demo`).
    os.environ["SANDBOX_HTTP_OPEN"] = "1"
    os.environ["EMAIL_BACKEND"] = "django.core.mail.backends.locmem.EmailBackend"
    where = _django.setup("subscription_renewals")
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test.utils import override_settings

    from bench._fixtures import new_user, onboarded_account
    from marketplace import stripe_gateway
    from marketplace.events.models import StripeEvent
    from marketplace.events.registry import handler_for, handlers_replaced, registered_types
    from marketplace.events.services import processing, webhook_endpoints_ensure_sandbox
    from sandbox import testing
    from sandbox.models import RequestLog
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
        for i, (user, row) in enumerate(zip(users, rows, strict=True)):
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
                print(f"  ... {i + 1} subscribed ({time.perf_counter() - began:.0f} s)", flush=True)
        fields = [
            f.name
            for f in Subscription._meta.concrete_fields
            if not f.primary_key and f.name not in ("buyer", "created_at")
        ]
        Subscription.objects.bulk_update(rows, fields, batch_size=500)
        testing.deliver_pending()  # nothing queued while the endpoints were disabled
        endpoints_enabled(True)
        return time.perf_counter() - began

    def last_request_id() -> int:
        return RequestLog.objects.order_by("-id").values_list("id", flat=True).first() or 0

    def renew_month() -> dict[str, float]:
        """One month on the sandbox clock; the renewal webhooks delivered and handled."""
        first_new = StripeEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
        began = time.perf_counter()
        testing.advance(days=31)
        renewed_in = time.perf_counter() - began
        # By id: the sandbox's housekeeping trims old request logs.
        requests_before = last_request_id()
        queries = [0]

        def count(execute, sql, params, many, context):
            queries[0] += 1
            return execute(sql, params, many, context)

        began = time.perf_counter()
        with connection.execute_wrapper(count):
            testing.deliver_pending()
            drain()
        pipeline = time.perf_counter() - began
        events = StripeEvent.objects.filter(id__gt=first_new)
        total = events.count()
        stripe_requests = last_request_id() - requests_before
        live = Subscription.objects.filter(status="active").count()
        return {
            "events": total,
            "pipeline_s": pipeline,
            "sandbox_s": renewed_in,
            "queries": queries[0],
            "stripe_requests": stripe_requests,
            "renewals": live,
            "first_event_id": first_new,
        }

    setup = subscribe_cohort(0)
    print(f"set-up: {n} subscriptions imported through the API in {setup:.1f} s")
    first = renew_month()
    assert first["renewals"] == n, first
    kinds = Counter(
        StripeEvent.objects.filter(id__gt=first["first_event_id"]).values_list("type", flat=True)
    )
    print(
        f"month 1: sandbox renewed {n} subscriptions in {first['sandbox_s']:.1f} s; "
        f"{first['events']} events ({first['events'] / n:.1f} per renewal: "
        + ", ".join(f"{t} {c}" for t, c in kinds.most_common())
        + ")"
    )
    print(
        f"  intake + handlers: {first['events'] / first['pipeline_s']:.0f} events/s, "
        f"{first['queries'] / n:.1f} SQL queries and "
        f"{first['stripe_requests'] / n:.1f} Stripe requests per renewal"
    )

    # Handlers against no-op handlers on the same stored events, interleaved rounds.
    ids = list(
        StripeEvent.objects.filter(id__gt=first["first_event_id"]).values_list("id", flat=True)
    )

    def rerun(handlers: dict | None) -> float:
        StripeEvent.objects.filter(id__in=ids).update(
            status=StripeEvent.Status.RECEIVED, attempts=0, next_attempt_at=None, processed_at=None
        )
        began = time.perf_counter()
        if handlers is None:
            drain()
        else:
            with handlers_replaced(handlers):
                drain()
        return len(ids) / (time.perf_counter() - began)

    noop = {t: (lambda event: None) for t in registered_types() if handler_for(t) is not None}
    real_rates, noop_rates = [], []
    for _ in range(ROUNDS):
        real_rates.append(rerun(None))
        noop_rates.append(rerun(noop))
    failed = StripeEvent.objects.exclude(status__in=["succeeded", "ignored"]).count()

    def line(name: str, rates: list[float]) -> str:
        return (
            f"{name}: min {min(rates):.0f} / median {statistics.median(rates):.0f} / "
            f"max {max(rates):.0f} events/s"
        )

    print(f"re-running the {len(ids)} renewal events ({ROUNDS} interleaved rounds):")
    print("  " + line("real handlers", real_rates))
    print("  " + line("no-op handlers (baseline)", noop_rates))
    print(
        f"  ratio real / no-op (medians): "
        f"{statistics.median(real_rates) / statistics.median(noop_rates):.2f}"
    )

    setup2 = subscribe_cohort(n)
    second = renew_month()
    print(
        f"second cohort: {n} more subscriptions in {setup2:.1f} s; month 2 renews {second['renewals']}"
    )
    print(
        f"  intake + handlers: {second['events'] / second['pipeline_s']:.0f} events/s, "
        f"{second['queries'] / second['renewals']:.1f} SQL queries and "
        f"{second['stripe_requests'] / second['renewals']:.1f} Stripe requests per renewal "
        f"(month 1 with {n}: {first['queries'] / n:.1f} and {first['stripe_requests'] / n:.1f})"
    )
    print(f"failed or dead events: {failed}")
    overrides.disable()
    stripe_gateway.reset_client()
    del settings
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv[1:]))
