"""On-site payment (Payment Element) against hosted Checkout, same run, against the sandbox with
20 ms of injected latency per Stripe request.

Workload, per purchase, for each flow (rounds interleaved, a new buyer each time):
- hosted: "Buy now" (order, Checkout Session) -> the buyer pays on the sandbox's hosted page
  (webhooks delivered inline, signed, to our endpoint) -> our success page;
- on-site: "Buy now" -> our payment page (Customer on first need, PaymentIntent, saved cards) ->
  the buyer's card confirmed as Stripe.js would (the sandbox's API, not counted as ours; its
  webhooks are) -> our return page.
Reported: the server time of "Buy now" up to the payment page being ready (ours vs hosted:
min/median/max and the ratio of medians), and the Stripe requests our server makes per purchase
(page, webhooks, return page), for each flow.
"""

from __future__ import annotations

import statistics
import time

N = 12
LATENCY_MS = 20


def main(argv: list[str] | None = None) -> int:
    import subprocess
    import sys

    return subprocess.call([sys.executable, "-m", "bench.onsite_checkout", *(argv or [])])


def _count() -> int:
    from sandbox.models import RequestLog

    return RequestLog.objects.count()


def run() -> int:
    import os

    from bench._django import setup

    # The purchase emails go to memory: the benchmark measures the payment, not a mail server.
    os.environ["EMAIL_BACKEND"] = "django.core.mail.backends.locmem.EmailBackend"
    where = setup("onsite_checkout")
    from django.conf import settings
    from django.test import Client
    from django.urls import reverse

    from bench._fixtures import new_user, onboarded_account
    from buyers.models import Purchase
    from marketplace import stripe_gateway
    from marketplace.events.services import webhook_endpoints_ensure_sandbox
    from sandbox import testing
    from sellers.models import Listing, Seller

    settings.SITE_URL = "http://testserver"
    settings.SANDBOX_HTTP_OPEN = True
    settings.SANDBOX_WEBHOOK_DELIVERY = "inline"
    settings.CHECKOUT_SHIPPING_COUNTRIES = []
    stripe_gateway.reset_client()
    webhook_endpoints_ensure_sandbox()
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
    buy_url = reverse("buyers:listing_buy", args=[listing.pk])
    sdk = stripe_gateway.client()
    print(
        f"database: {where}; {N} purchases per flow, interleaved, {LATENCY_MS} ms injected on "
        "every sandbox request"
    )
    testing.add_latency(LATENCY_MS, count=10**6)

    def hosted() -> tuple[float, int]:
        client = Client()
        client.force_login(new_user())
        settings.CHECKOUT_UI = "hosted"
        before = _count()
        t0 = time.perf_counter()
        response = client.post(buy_url, {"quantity": 1})
        elapsed = time.perf_counter() - t0
        checkout = response["Location"].removeprefix("http://testserver")
        assert "/sandbox/checkout/cs_" in checkout, checkout
        paid = client.post(
            checkout,
            {
                "email": "bench@example.com",
                "card_number": "4242424242424242",
                "expiry": "12 / 34",
                "cvc": "123",
                "name": "Ada",
            },
        )
        client.get(paid["Location"].removeprefix("http://testserver"))
        purchase = Purchase.objects.order_by("-pk").first()
        assert purchase is not None and purchase.status == "paid", purchase
        return elapsed, _count() - before

    def onsite() -> tuple[float, int]:
        client = Client()
        client.force_login(new_user())
        settings.CHECKOUT_UI = "elements"
        before = _count()
        t0 = time.perf_counter()
        response = client.post(buy_url, {"quantity": 1})
        page = client.get(response["Location"])
        elapsed = time.perf_counter() - t0
        assert page.status_code == 200
        purchase = Purchase.objects.order_by("-pk").first()
        assert purchase is not None
        browser_before = _count()
        sdk.v1.payment_intents.confirm(
            purchase.payment_intent_id,
            {"payment_method": "pm_card_visa", "return_url": "http://testserver/x"},
        )
        browser = 1  # the confirmation is Stripe.js's request, not our server's
        assert _count() - browser_before >= browser
        client.get(
            reverse("buyers:purchase_payment_return", args=[purchase.pk])
            + f"?payment_intent={purchase.payment_intent_id}"
        )
        purchase.refresh_from_db()
        assert purchase.status == "paid", purchase.status
        return elapsed, _count() - before - browser

    hosted()  # warm-up (imports, first queries), not measured
    onsite()
    results: dict[str, list[tuple[float, int]]] = {"hosted": [], "onsite": []}
    for _ in range(N):
        results["hosted"].append(hosted())
        results["onsite"].append(onsite())
    testing.clear_faults()

    medians = {}
    for name, rows in results.items():
        times = sorted(t * 1000 for t, _ in rows)
        requests = [r for _, r in rows]
        medians[name] = statistics.median(times)
        print(
            f"{name:7s} buy -> payment page ready: min {times[0]:6.1f}  median "
            f"{medians[name]:6.1f}  max {times[-1]:6.1f} ms; Stripe requests per purchase "
            f"(our server, webhooks included): {statistics.median(requests):.0f} "
            f"(min {min(requests)}, max {max(requests)})"
        )
    print(f"ratio on-site/hosted (median page time): {medians['onsite'] / medians['hosted']:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(run())
