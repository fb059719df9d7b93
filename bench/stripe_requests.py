"""Stripe requests per user action, end to end on the sandbox, against the bounds we promise.

Each action runs as a user would (Django's test client on our views, the sandbox's hosted
Checkout page, signed webhooks delivered inline to /stripe/webhook/, the event pipeline and its
handlers, Celery tasks in-process). Counted is every API request the sandbox answered while the
action ran, from its own request log (so the count does not depend on our gateway's counter,
and the same benchmark runs on an older checkout to give the "before").

Actions and bounds (Stripe allows 25 requests/s in test mode, 100 in live mode):

- paid order, hosted Checkout, webhook before the success page: <= 2
- paid order, success page before the webhooks: <= 2
- refund of a paid order by its seller (with the events it causes): <= 3
- several-seller purchase (cart, one payment): <= 2 + one transfer per seller (2 and 3 sellers)

A paid order is the Checkout Session and, when the webhooks come first, one list of balance
transactions: the events alone fulfil it and record its charge (a paid session's and a settled
charge's own payloads), and Stripe's processing fee, which no event carries, is read after the
batch of events with the other charges' (one request per up to 100 charges; one per order here,
where each delivery is its own batch). When the success page comes first, its one read of the
session (the charge and its balance transaction expanded) fulfils the order and hands the charge
to the ledger. Each transfer of a several-seller purchase is recorded from its own
``transfer.created`` event. Before: 3 per paid order and 3 + N per several-seller purchase
(2026-11-28, the ledger's own read of the charge), then 2 and 2 + N with a read of the session
to fulfil from the webhook.

``--rounds N`` repeats each action N times (min/median/max printed; they should not vary).
"""

from __future__ import annotations

import os
import statistics
import sys
import uuid
from collections import Counter
from collections.abc import Callable
from urllib.parse import urlsplit

ROUNDS = 3

SHIPPING = {
    "shipping-name": "Ada Lovelace",
    "shipping-line1": "12 rue des Lilas",
    "shipping-postal_code": "75011",
    "shipping-city": "Paris",
    "shipping-country": "FR",
}


def main(argv: list[str] | None = None) -> int:
    """Runs in its own process: it sets Django up on a throw-away database of its own."""
    import subprocess

    return subprocess.call([sys.executable, "-m", "bench.stripe_requests", *(argv or [])])


def _path(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


class Counted:
    """The sandbox's request log since the last ``start()``."""

    def start(self) -> None:
        from sandbox.models import RequestLog

        self.since = RequestLog.objects.order_by("-pk").values_list("pk", flat=True).first() or 0

    def requests(self) -> list[str]:
        import re

        from sandbox.models import RequestLog

        rows = RequestLog.objects.filter(pk__gt=self.since).order_by("pk")
        return [
            f"{r.method} {re.sub(r'/[a-z]{2,6}_[A-Za-z0-9_]+', '/{id}', r.path)}"
            + (f" [{r.status}]" if r.status and r.status >= 400 else "")
            for r in rows
        ]


def run(argv: list[str]) -> int:
    rounds = ROUNDS
    if "--rounds" in argv:
        rounds = int(argv[argv.index("--rounds") + 1])
    os.environ["SANDBOX_HTTP_OPEN"] = "1"
    os.environ["SANDBOX_WEBHOOK_DELIVERY"] = "inline"
    os.environ.setdefault("SITE_URL", "http://testserver")
    os.environ["EMAIL_BACKEND"] = "django.core.mail.backends.locmem.EmailBackend"
    from bench._django import setup

    where = setup("stripe_requests")
    from django.test import Client
    from django.urls import reverse

    from bench._fixtures import new_user, onboarded_account
    from buyers.models import Order, Purchase
    from marketplace import stripe_gateway
    from marketplace.events.services import webhook_endpoints_ensure_sandbox
    from payouts.services import refund_request_create
    from sellers.models import Listing, Seller

    stripe_gateway.reset_client()
    webhook_endpoints_ensure_sandbox()
    counted = Counted()

    def shop(name: str) -> Listing:
        user = new_user()
        seller = Seller.objects.create(
            user=user,
            display_name=name,
            slug=f"{name.lower().replace(' ', '-')}-{uuid.uuid4().hex[:6]}",
            country="FR",
            default_currency="eur",
            stripe_account_id=onboarded_account(name=name),
            charges_enabled=True,
            payouts_enabled=True,
            details_submitted=True,
        )
        return Listing.objects.create(
            seller=seller,
            title=f"{name} mug",
            price_amount=2500,
            currency="eur",
            stock=None,
            status=Listing.Status.PUBLISHED,
        )

    def pay(client: Client, checkout_path: str) -> str:
        client.get(checkout_path)
        response = client.post(
            checkout_path,
            {
                "email": "buyer@example.com",
                "card_number": "4242424242424242",
                "expiry": "12 / 34",
                "cvc": "123",
                "name": "Ada",
                **SHIPPING,
            },
        )
        assert response.status_code == 302, (response.status_code, response.content[:300])
        return _path(response["Location"])

    def buyer_client() -> Client:
        client = Client()
        client.force_login(new_user())
        return client

    listing = shop("Bench Pottery")

    def paid_order(webhook_first: bool) -> Callable[[], list[str]]:
        def action() -> list[str]:
            from django.conf import settings

            from sandbox import testing

            client = buyer_client()
            settings.SANDBOX_WEBHOOK_DELIVERY = "inline" if webhook_first else "manual"
            counted.start()
            response = client.post(
                reverse("buyers:listing_buy", args=[listing.pk]), {"quantity": 1}
            )
            assert response.status_code == 303, response.status_code
            success = pay(client, _path(response["Location"]))
            page = client.get(success, follow=True)
            assert page.status_code == 200
            if not webhook_first:
                testing.deliver_pending()
            settings.SANDBOX_WEBHOOK_DELIVERY = "inline"
            order = Order.objects.filter(listing=listing).order_by("-pk").first()
            assert order is not None and order.status == Order.Status.PAID, order
            return counted.requests()

        return action

    def refund() -> list[str]:
        client = buyer_client()
        response = client.post(reverse("buyers:listing_buy", args=[listing.pk]), {"quantity": 1})
        page = client.get(pay(client, _path(response["Location"])), follow=True)
        assert page.status_code == 200
        order = Order.objects.filter(listing=listing).order_by("-pk").first()
        assert order is not None and order.status == Order.Status.PAID
        counted.start()
        refund_request_create(
            actor=listing.seller.user,
            charge_id=order.charge_id,
            amount=order.amount,
            reason="damaged",
            client_token=uuid.uuid4(),
        )
        order.refresh_from_db()
        assert order.status == Order.Status.REFUNDED, order.status
        return counted.requests()

    sellers_listings = [listing, shop("Bench Glass"), shop("Bench Wood")]

    def several(n: int) -> Callable[[], list[str]]:
        def action() -> list[str]:
            client = buyer_client()
            counted.start()
            for item in sellers_listings[:n]:
                client.post(reverse("buyers:cart_add", args=[item.pk]), {"quantity": 1})
            response = client.post(reverse("buyers:cart_checkout"), {"currency": "eur"})
            assert response.status_code == 303, response.status_code
            page = client.get(pay(client, _path(response["Location"])), follow=True)
            assert page.status_code == 200
            purchase = Purchase.objects.order_by("-pk").first()
            assert purchase is not None and purchase.status == Purchase.Status.PAID
            transferred = purchase.orders.exclude(transfer_id="").count()
            assert transferred == n, (transferred, n)
            return counted.requests()

        return action

    actions: list[tuple[str, Callable[[], list[str]], int]] = [
        ("paid order (webhook first)", paid_order(True), 2),
        ("paid order (success page first)", paid_order(False), 2),
        ("refund by the seller", refund, 3),
        ("2-seller purchase", several(2), 2 + 2),
        ("3-seller purchase", several(3), 2 + 3),
    ]
    # Warm-up (first imports and queries), not counted.
    paid_order(True)()
    counts: dict[str, list[int]] = {name: [] for name, _, _ in actions}
    detail: dict[str, list[str]] = {}
    for _ in range(rounds):  # interleaved: each round runs every action once
        for name, action, _ in actions:
            requests = action()
            counts[name].append(len(requests))
            detail[name] = requests
    print(f"database: {where}; {rounds} rounds; Stripe requests per action (sandbox request log)")
    print(f"{'action':34} {'min':>4} {'median':>6} {'max':>4} {'bound':>5}  ok")
    ok = True
    for name, _, bound in actions:
        values = counts[name]
        good = max(values) <= bound
        ok = ok and good
        print(
            f"{name:34} {min(values):4d} {statistics.median(values):6.0f} {max(values):4d} "
            f"{bound:5d}  {'yes' if good else 'NO'}"
        )
    print("requests of the last round, by endpoint:")
    for name, _, _ in actions:
        summary = ", ".join(f"{k} x{v}" if v > 1 else k for k, v in Counter(detail[name]).items())
        print(f"  {name}: {summary}")
    print("all within bounds:", "yes" if ok else "NO")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(run(sys.argv[1:]))
