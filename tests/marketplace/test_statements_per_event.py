"""Statements per event, counted on the real pipeline with the real handlers: each event type
costs the same number of statements whatever the number of events drained together (no
per-batch work growing with the batch, no query per row hidden in a loop), and the claim and the
finish of a batch cost a fixed number of statements. An operator sizes the database by it."""

from __future__ import annotations

import itertools
import time
from datetime import UTC, datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from marketplace import stripe_gateway
from marketplace.events.models import StripeEvent
from marketplace.events.services import events_drain
from sellers.models import Seller
from tests.buyers.sandbox_support import onboarded_account
from tests.sellers.factories import SellerFactory

pytestmark = [pytest.mark.django_db(transaction=True)]

_serial = itertools.count(1)


@pytest.fixture
def sellers(settings):
    settings.STRIPE_SANDBOX = True
    stripe_gateway.reset_client()
    made = [SellerFactory(stripe_account_id=onboarded_account()) for _ in range(6)]
    StripeEvent.objects.all().delete()  # the onboarding's own events are not measured
    yield made
    stripe_gateway.reset_client()


def store_account_updated(sellers: list[Seller]) -> None:
    base = int(time.time()) + 1000
    for seller in sellers:
        n = next(_serial)
        account = str(seller.stripe_account_id)
        StripeEvent.objects.create(
            stripe_id=f"evt_statements_{n:06d}",
            type="account.updated",
            account=account,
            created=datetime.fromtimestamp(base + n, tz=UTC),
            payload={
                "id": f"evt_statements_{n:06d}",
                "object": "event",
                "type": "account.updated",
                "account": account,
                "created": base + n,
                "data": {"object": {"id": account, "object": "account"}},
            },
            source=StripeEvent.Source.CONNECT,
        )


@pytest.fixture(autouse=True)
def stripe_side(monkeypatch):
    """Counts the statements the in-process sandbox runs while it answers a request (Stripe's
    side, not ours)."""
    from sandbox.client import SandboxHTTPClient

    seen = [0]
    original = SandboxHTTPClient.request

    def request(self, *args, **kwargs):
        def mark(execute, sql, params, many, context):
            seen[0] += 1
            return execute(sql, params, many, context)

        with connection.execute_wrapper(mark):
            return original(self, *args, **kwargs)

    monkeypatch.setattr(SandboxHTTPClient, "request", request)
    _stripe_side[:] = [seen]
    yield seen
    _stripe_side.clear()


_stripe_side: list[list[int]] = []


class Counted(CaptureQueriesContext):
    """Our statements while the block runs (the sandbox's own, answering requests, excluded)."""

    def __enter__(self):
        self.sandbox_before = _stripe_side[0][0]
        return super().__enter__()

    def __exit__(self, *exc):
        super().__exit__(*exc)
        self.sandbox = _stripe_side[0][0] - self.sandbox_before


def ours(captured: Counted) -> int:
    """Statements of the marketplace (the in-process sandbox's own are Stripe's side)."""
    return len(captured.captured_queries) - captured.sandbox


def drained(sellers: list[Seller]) -> int:
    store_account_updated(sellers)
    with Counted(connection) as captured:
        assert events_drain().processed == len(sellers)
    assert not StripeEvent.objects.exclude(status=StripeEvent.Status.SUCCEEDED).exists()
    return ours(captured)


def test_account_updated_costs_the_same_statements_per_event_whatever_the_batch(sellers):
    one, three, six = drained(sellers[:1]), drained(sellers[:3]), drained(sellers)
    per_event = (six - three) // 3
    assert (three - one) == 2 * per_event and (six - three) == 3 * per_event  # linear in N
    fixed = one - per_event
    # Claim (1 statement on PostgreSQL, 3 on SQLite) + the drain's empty look and the batch's
    # transaction and finishing UPDATE: a few statements per batch, not per event.
    # Claim (1 statement on PostgreSQL, 3 on SQLite), then BEGIN, the batch's one finishing
    # UPDATE and COMMIT: per batch, not per event.
    assert fixed <= (4 if connection.vendor == "postgresql" else 8), (one, three, six)
    # Per account.updated: one locked read of the seller and one UPDATE of the columns that
    # changed; handlers run without a savepoint unless one fails, the service adds none. Was
    # 13, then 10 (with the in-process sandbox's own savepoints, Stripe's side, counted).
    assert per_event <= 2, (one, three, six)


# --- The money events of a real hosted sale and of the seller's payout --------------------------

# Statements of ours per event, at most (savepoints included; the in-process sandbox's own, while
# it answers the handler's Stripe read, are Stripe's side and not counted). Before the cuts
# (bench events_processing, same counting): charge.succeeded 45, checkout.session.completed 14,
# payment_intent.succeeded 3, transfer.created 3, payout.created 21, payout.updated 11.
# charge.succeeded is drained first here, so it fulfils the purchase (the fulfilment's one
# Checkout read hands the charge to the ledger: one Stripe request fewer per sale) and
# checkout.session.completed then finds it done; together a sale's two cost at most
# SALE_BOUND.
SALE_BOUND = 27
MONEY_EVENT_BOUNDS = {
    "charge.succeeded": 26,
    "checkout.session.completed": 12,
    "payment_intent.succeeded": 1,
    "transfer.created": 1,
    "payout.created": 9,
    "payout.updated": 4,
}


@pytest.fixture
def sandbox_sales(settings, client):
    """Sells one mug per new seller through hosted Checkout (webhook first) and pays the sellers
    out; returns the events the sandbox would deliver, kept (manual delivery) to be measured."""
    from django.urls import reverse

    from marketplace.events.models import WebhookEndpoint
    from marketplace.events.services import webhook_endpoints_ensure_sandbox
    from sandbox import testing
    from sandbox.models import Delivery, SandboxObject
    from tests.factories import UserFactory
    from tests.sellers.factories import ListingFactory

    settings.STRIPE_SANDBOX = True
    settings.SITE_URL = "http://testserver"
    settings.SANDBOX_WEBHOOK_DELIVERY = "manual"
    stripe_gateway.reset_client()
    webhook_endpoints_ensure_sandbox()

    def sales(count: int) -> list[tuple[dict, str]]:
        since = Delivery.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
        for _ in range(count):
            seller = SellerFactory(stripe_account_id=onboarded_account())
            listing = ListingFactory(seller=seller, price_amount=2500, stock=None)
            client.force_login(UserFactory())
            response = client.post(
                reverse("buyers:listing_buy", args=[listing.pk]), {"quantity": 1}
            )
            page = response["Location"].split("testserver", 1)[-1]
            client.get(page)
            paid = client.post(
                page,
                {
                    "email": "buyer@example.com",
                    "card_number": "4242424242424242",
                    "expiry": "12 / 34",
                    "cvc": "123",
                    "name": "Ada",
                    "shipping-name": "Ada Lovelace",
                    "shipping-line1": "12 rue des Lilas",
                    "shipping-postal_code": "75011",
                    "shipping-city": "Paris",
                    "shipping-country": "FR",
                },
            )
            assert paid.status_code == 302, paid.content[:300]
        testing.advance(days=8)  # available, then paid out
        kinds = dict(WebhookEndpoint.objects.values_list("stripe_id", "kind"))
        rows = list(Delivery.objects.filter(pk__gt=since).order_by("pk"))
        bodies = dict(
            SandboxObject.objects.filter(id__in=[r.event_id for r in rows]).values_list(
                "id", "data"
            )
        )
        return [(bodies[r.event_id], kinds[r.endpoint_id]) for r in rows]

    yield sales
    stripe_gateway.reset_client()


def statements_by_type(events: list[tuple[dict, str]]) -> dict[str, int]:
    """Drain the events one type after another; our statements for each type."""
    from marketplace.events.services import event_store

    spent: dict[str, int] = {}
    for event_type in MONEY_EVENT_BOUNDS:
        for event, kind in events:
            if event["type"] == event_type:
                event_store(event=event, source=kind)
        with Counted(connection) as captured:
            events_drain()
        assert not StripeEvent.objects.exclude(status=StripeEvent.Status.SUCCEEDED).exists()
        spent[event_type] = ours(captured)
    return spent


def test_money_events_cost_the_same_statements_per_event_whatever_the_batch(sandbox_sales):
    one = statements_by_type(sandbox_sales(1))
    three = statements_by_type(sandbox_sales(3))
    for event_type, bound in MONEY_EVENT_BOUNDS.items():
        per_event = (three[event_type] - one[event_type]) / 2
        fixed = one[event_type] - per_event
        assert per_event == int(per_event), (event_type, one, three)  # linear in N
        assert fixed <= (4 if connection.vendor == "postgresql" else 8), (event_type, one, three)
        assert per_event <= bound, (event_type, per_event, one, three)
    sale = ("charge.succeeded", "checkout.session.completed")
    per_sale = sum(three[t] - one[t] for t in sale) / 2
    assert per_sale <= SALE_BOUND, (per_sale, one, three)
