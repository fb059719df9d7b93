"""Checkout creation against the sandbox with 100 ms of injected latency per Stripe request.

Workload: N checkouts (order_create + order_checkout_url: reserve stock, fee quote, one Checkout
Session through the gateway, store it). Baseline measured in the same run: a bare loop of the SDK
call alone (``checkout.sessions.create`` with the same params) under the same latency. Reported:
mean per checkout for both, our overhead (ms) and the ratio. Then a double-click storm: K threads
submitting the same buy form (same form token) at once, each going on to the checkout, for M
orders: exactly one order and one session per form is required.
"""

from __future__ import annotations

import statistics
import threading
import time
import uuid
from typing import Any

N = 30
LATENCY_MS = 100
STORM_THREADS = 8
STORM_ORDERS = 5


def main(argv: list[str] | None = None) -> int:
    """Runs in its own process: it sets Django up on a throw-away database of its own."""
    import subprocess
    import sys

    return subprocess.call([sys.executable, "-m", "bench.checkout", *(argv or [])])


def sessions_of(order_id: int) -> int:
    from sandbox import store

    return (
        store.queryset("checkout.session", account="")
        .filter(data__metadata__order_id=str(order_id))
        .count()
    )


def run() -> int:
    from bench._django import setup

    where = setup("checkout")
    from django.conf import settings
    from django.db import close_old_connections

    from bench._fixtures import new_user, onboarded_account
    from buyers import services
    from buyers.models import Order
    from marketplace import stripe_gateway
    from sandbox import testing
    from sellers.models import Listing, Seller

    settings.SITE_URL = "http://testserver"
    account = onboarded_account(name="Bench Pottery")
    seller = Seller.objects.create(
        user=new_user(),
        display_name="Bench Pottery",
        slug="bench-pottery",
        country="FR",
        stripe_account_id=account,
        charges_enabled=True,
    )
    listing = Listing.objects.create(
        seller=seller,
        title="Bench mug",
        price_amount=2500,
        currency="eur",
        stock=None,
        status=Listing.Status.PUBLISHED,
    )
    buyers = [new_user() for _ in range(N)]
    print(f"database: {where}; {N} checkouts, {LATENCY_MS} ms injected on every sandbox request")

    testing.add_latency(LATENCY_MS, count=10**6)
    sdk = stripe_gateway.client()
    expires = int(time.time()) + 40 * 60

    # Warm-up (imports, first queries), not measured.
    sdk.v1.checkout.sessions.create(bare_params(account, expires, 0))
    warm = services.order_create(buyer=new_user(), listing_id=listing.pk, quantity=1)
    services.order_checkout_url(order_id=warm.pk)

    bare: list[float] = []
    ours: list[float] = []
    # Interleaved, so that noise from other processes hits both alike.
    for i in range(N):
        t0 = time.perf_counter()
        sdk.v1.checkout.sessions.create(
            bare_params(account, expires, i + 1), options={"idempotency_key": f"bare-{i}"}
        )
        bare.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        order = services.order_create(buyer=buyers[i], listing_id=listing.pk, quantity=1)
        services.order_checkout_url(order_id=order.pk)
        ours.append(time.perf_counter() - t0)
    b, o = statistics.mean(bare), statistics.mean(ours)
    print(f"bare SDK call:      mean {b * 1000:7.1f} ms  max {max(bare) * 1000:7.1f} ms")
    print(f"our checkout:       mean {o * 1000:7.1f} ms  max {max(ours) * 1000:7.1f} ms")
    print(f"our overhead:       {(o - b) * 1000:7.1f} ms per checkout; ratio ours/bare {o / b:.2f}")

    # Double-click storm: K submits of the same buy form (same token) at once, each going on to
    # the checkout, as the browser would.
    ok = True
    for _ in range(STORM_ORDERS):
        buyer = new_user()
        token = uuid.uuid4()
        urls: list[Any] = []
        barrier = threading.Barrier(STORM_THREADS)

        def click(
            buyer: Any = buyer,
            token: uuid.UUID = token,
            barrier: threading.Barrier = barrier,
            urls: list[Any] = urls,
        ) -> None:
            try:
                barrier.wait()
                order = services.order_create(
                    buyer=buyer, listing_id=listing.pk, quantity=1, client_token=token
                )
                urls.append(services.order_checkout_url(order_id=order.pk))
            except Exception as exc:
                urls.append(exc)
            finally:
                close_old_connections()

        threads = [threading.Thread(target=click) for _ in range(STORM_THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        orders = list(Order.objects.filter(buyer=buyer))
        made = sum(sessions_of(order.pk) for order in orders)
        good = {u for u in urls if isinstance(u, str)}
        errors = [u for u in urls if not isinstance(u, str)]
        print(
            f"storm: {STORM_THREADS} clicks: {len(orders)} order(s), {made} session(s) in Stripe, "
            f"{len(good)} distinct URL(s), {len(errors)} click(s) told to retry"
            + (f" ({errors[0]!r})" if errors else "")
        )
        ok = ok and len(orders) == 1 and made == 1 and len(good) <= 1
    print("exactly one session per order under the storm:", "yes" if ok else "NO")
    testing.clear_faults()
    return 0 if ok else 1


def bare_params(account: str, expires: int, n: int) -> Any:
    return {
        "mode": "payment",
        "line_items": [
            {
                "quantity": 1,
                "price_data": {
                    "currency": "eur",
                    "unit_amount": 2500,
                    "product_data": {"name": "Bench mug"},
                },
            }
        ],
        "payment_intent_data": {
            "application_fee_amount": 280,
            "transfer_data": {"destination": account},
        },
        "client_reference_id": f"bare-{n}",
        "metadata": {"order_id": f"bare-{n}"},
        "customer_email": "bench@example.com",
        "expires_at": expires,
        "success_url": "http://testserver/checkout/success/?session_id={CHECKOUT_SESSION_ID}",
        "cancel_url": "http://testserver/",
    }


if __name__ == "__main__":
    raise SystemExit(run())
