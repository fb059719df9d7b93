"""Checkout of a 10-seller cart against the sandbox with 100 ms of injected latency per request.

Workload, per round (R rounds, interleaved with the baseline so that noise from other processes
hits both alike):

- ours, checkout: a buyer's cart holding ten listings of ten sellers (filled before the clock
  starts), ``cart_checkout`` (prices re-checked, one purchase, ten orders, stock reserved) and ``purchase_checkout_url`` (one Checkout Session on
  the platform with ``transfer_group``). Baseline: the bare SDK call
  ``checkout.sessions.create`` with the same ten line items and ``transfer_group``.
- the buyer pays on the sandbox's page (not measured), then ``purchase_fulfil`` records the
  payment (measured, counted; no baseline: it is reads);
- ours, transfer job: ``purchase_transfers_create`` (one Transfer per seller, idempotency keys,
  row locks, status writes). Baseline: a bare loop of ten ``transfers.create`` with the same
  params on a charge paid the same way.

Printed: Stripe requests per purchase (from the sandbox's request log, per step), min / median /
max of each step for ours and the baseline, the ratio ours/bare of the medians, and transfers
created per second by the job and by the bare loop. Exit status 1 if any seller was not
transferred exactly once.
"""

from __future__ import annotations

import os
import statistics
import time
from typing import Any

SELLERS = 10
ROUNDS = 8
LATENCY_MS = 100


def main(argv: list[str] | None = None) -> int:
    """Runs in its own process: it sets Django up on a throw-away database of its own."""
    import subprocess
    import sys

    return subprocess.call([sys.executable, "-m", "bench.cart_checkout", *(argv or [])])


def _spread(label: str, values: list[float]) -> str:
    ms = sorted(v * 1000 for v in values)
    return (
        f"{label:<28} min {ms[0]:7.1f}  median {statistics.median(ms):7.1f}  max {ms[-1]:7.1f} ms"
    )


def run() -> int:
    # No webhooks (the bench drives each step itself) and tasks go to an in-memory broker that
    # nothing consumes: the transfer job runs when the bench calls it, as a worker would.
    os.environ["SANDBOX_WEBHOOK_DELIVERY"] = "manual"
    from bench._django import setup

    where = setup("cart_checkout")
    from django.conf import settings
    from django.db import transaction

    from bench._fixtures import new_user, onboarded_account
    from buyers import cart, services
    from buyers.models import Order, Purchase
    from marketplace import stripe_gateway
    from marketplace.celery import app
    from sandbox import testing
    from sandbox.models import RequestLog
    from sandbox.resources.checkout import pay
    from sellers.models import Listing, Seller

    app.conf.task_always_eager = False
    app.conf.broker_url = "memory://localhost/"
    settings.SITE_URL = "http://testserver"
    settings.CHECKOUT_SHIPPING_COUNTRIES = []
    listings = []
    for n in range(SELLERS):
        seller = Seller.objects.create(
            user=new_user(),
            display_name=f"Bench shop {n}",
            slug=f"bench-cart-shop-{n}",
            country="FR",
            default_currency="eur",
            stripe_account_id=onboarded_account(name=f"Bench shop {n}"),
            charges_enabled=True,
            payouts_enabled=True,
            details_submitted=True,
        )
        listings.append(
            Listing.objects.create(
                seller=seller,
                title=f"Bench item {n}",
                price_amount=1000 + 100 * n,
                currency="eur",
                stock=None,
                status=Listing.Status.PUBLISHED,
            )
        )
    print(
        f"database: {where}; {ROUNDS} rounds of a {SELLERS}-seller cart, {LATENCY_MS} ms injected "
        "on every sandbox request"
    )
    sdk = stripe_gateway.client()

    def requests_since(mark: int) -> int:
        return RequestLog.objects.filter(pk__gt=mark).count()

    def last_log() -> int:
        return RequestLog.objects.order_by("-pk").values_list("pk", flat=True).first() or 0

    def paid_session(session_id: str) -> str:
        with transaction.atomic():  # as the hosted page's request would be
            _session, intent, error = pay(
                session_id, number="4242424242424242", email="b@example.com"
            )
        assert error is None and intent is not None, error
        return str(intent["latest_charge"])

    def bare_session(n: int) -> Any:
        return sdk.v1.checkout.sessions.create(
            {
                "mode": "payment",
                "line_items": [
                    {
                        "quantity": 1,
                        "price_data": {
                            "currency": "eur",
                            "unit_amount": listing.price_amount,
                            "product_data": {"name": listing.title},
                        },
                    }
                    for listing in listings
                ],
                "payment_intent_data": {"transfer_group": f"bare-{n}"},
                "metadata": {"purchase_id": f"bare-{n}"},
                "customer_email": "bench@example.com",
                "expires_at": testing.now() + 40 * 60,
                "success_url": "http://testserver/checkout/success/?session_id={CHECKOUT_SESSION_ID}",
                "cancel_url": "http://testserver/",
            },
            options={"idempotency_key": f"bench-bare-session-{n}"},
        )

    def full_cart() -> Any:
        buyer = new_user()
        for listing in listings:
            cart.cart_add(user=buyer, session={}, listing_id=listing.pk, quantity=1)
        return buyer

    def ours_checkout(buyer: Any) -> Purchase:
        purchase = cart.cart_checkout(buyer=buyer, currency="eur", client_token=None)
        services.purchase_checkout_url(purchase_id=purchase.pk)
        purchase.refresh_from_db()
        return purchase

    # Warm-up (imports, first queries, the SDK's connection), not measured.
    warm = ours_checkout(full_cart())
    paid_session(warm.checkout_session_id or "")
    services.purchase_fulfil(checkout_session_id=warm.checkout_session_id or "")
    services.purchase_transfers_create(purchase_id=warm.pk)
    bare_session(-1)

    testing.add_latency(LATENCY_MS, count=10**6)
    times: dict[str, list[float]] = {
        k: [] for k in ("bare checkout", "our checkout", "our fulfilment", "bare 10 transfers")
    }
    times["our transfer job"] = []
    counts: dict[str, list[int]] = {"checkout": [], "fulfilment": [], "transfer job": []}
    ok = True
    for n in range(ROUNDS):
        t0 = time.perf_counter()
        session = bare_session(n)
        times["bare checkout"].append(time.perf_counter() - t0)

        buyer = full_cart()
        mark = last_log()
        t0 = time.perf_counter()
        purchase = ours_checkout(buyer)
        times["our checkout"].append(time.perf_counter() - t0)
        counts["checkout"].append(requests_since(mark))

        bare_charge = paid_session(session.id)
        paid_session(purchase.checkout_session_id or "")
        mark = last_log()
        t0 = time.perf_counter()
        services.purchase_fulfil(checkout_session_id=purchase.checkout_session_id or "")
        times["our fulfilment"].append(time.perf_counter() - t0)
        counts["fulfilment"].append(requests_since(mark))

        t0 = time.perf_counter()
        for i, listing in enumerate(listings):
            sdk.v1.transfers.create(
                {
                    "amount": listing.price_amount - 100,
                    "currency": "eur",
                    "destination": listing.seller.stripe_account_id or "",
                    "source_transaction": bare_charge,
                    "transfer_group": f"bare-{n}",
                    "metadata": {"purchase_id": f"bare-{n}", "order_id": str(i)},
                },
                options={"idempotency_key": f"bench-bare-{n}-transfer-{i}"},
            )
        times["bare 10 transfers"].append(time.perf_counter() - t0)

        mark = last_log()
        t0 = time.perf_counter()
        waiting = services.purchase_transfers_create(purchase_id=purchase.pk)
        times["our transfer job"].append(time.perf_counter() - t0)
        counts["transfer job"].append(requests_since(mark))
        paid = Order.objects.filter(purchase=purchase, transfer_status=Order.TransferStatus.PAID)
        made = sdk.v1.transfers.list({"transfer_group": purchase.transfer_group, "limit": 100})
        ok = ok and not waiting and paid.count() == SELLERS and len(made.data) == SELLERS
    testing.clear_faults()

    per_step = {k: statistics.median(v) for k, v in counts.items()}
    total = sum(per_step.values())
    print(
        "Stripe requests per purchase: "
        + ", ".join(f"{k} {v:g}" for k, v in per_step.items())
        + f"; total {total:g} (the bare loop: 1 session + {SELLERS} transfers = {SELLERS + 1})"
    )
    for label, values in times.items():
        print(_spread(label, values))
    med = {k: statistics.median(v) for k, v in times.items()}
    print(
        f"checkout: ours/bare {med['our checkout'] / med['bare checkout']:.2f} "
        f"(overhead {(med['our checkout'] - med['bare checkout']) * 1000:.1f} ms, "
        f"for re-checking {SELLERS} cart lines, {SELLERS} orders and their stock reservations)"
    )
    print(
        f"transfer job: ours/bare {med['our transfer job'] / med['bare 10 transfers']:.2f} "
        f"(overhead {(med['our transfer job'] - med['bare 10 transfers']) * 1000:.1f} ms per "
        f"{SELLERS} transfers)"
    )
    print(
        f"transfers per second: job {SELLERS / med['our transfer job']:.1f}/s, "
        f"bare SDK loop {SELLERS / med['bare 10 transfers']:.1f}/s "
        f"(each request waits {LATENCY_MS} ms)"
    )
    print("every seller transferred exactly once:", "yes" if ok else "NO")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(run())
