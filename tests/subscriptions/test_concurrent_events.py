"""Two events of one renewal invoice handled at the same moment by two workers (Celery's prefork
pool): ``invoice.created`` and ``invoice.finalized`` both find no invoice row. They meet at the
subscription's lock, so the second one updates the row the first created instead of inserting
it again (a unique violation and a retried event)."""

from __future__ import annotations

import datetime as dt
import threading
import time

import pytest
from django.db import connection, connections, transaction

from sandbox import testing
from subscriptions import services
from subscriptions.models import Subscription, SubscriptionInvoice
from tests.subscriptions.test_renewal_cost import import_subscribers

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="needs row locks and concurrent writers: run with DATABASE_URL=postgres://...",
    ),
]


def renewal_invoice_events() -> dict[str, dict]:
    """The sandbox renews the subscription (a month on): the renewal invoice's own events."""
    testing.advance(days=31, hours=2)
    found = {}
    for kind in ("invoice.created", "invoice.finalized"):
        events = [
            e
            for e in testing.events(event_type=kind)
            if e["data"]["object"]["billing_reason"] == "subscription_cycle"
        ]
        assert len(events) == 1, kind
        found[kind] = events[0]
    return found


def test_created_and_finalized_at_once_make_one_row(sandbox, monthly, settings):
    settings.SANDBOX_WEBHOOK_DELIVERY = "manual"
    [sub] = import_subscribers(monthly, 1)
    events = renewal_invoice_events()
    invoice_id = events["invoice.created"]["data"]["object"]["id"]
    errors: list[BaseException] = []

    def handle(kind: str) -> None:
        event = events[kind]
        services.invoice_sync(
            stripe_invoice_id=invoice_id,
            event_type=kind,
            as_of=dt.datetime.fromtimestamp(event["created"], tz=dt.UTC),
            told=event["data"]["object"],
        )

    def finalized_in_another_worker() -> None:
        try:
            with transaction.atomic():
                handle("invoice.finalized")
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    with transaction.atomic():
        # This worker handles invoice.created: it holds the subscription's lock meanwhile.
        Subscription.objects.select_for_update().get(pk=sub.pk)
        other = threading.Thread(target=finalized_in_another_worker)
        other.start()
        time.sleep(0.5)
        assert other.is_alive(), "the other worker did not wait for the subscription's lock"
        handle("invoice.created")
    other.join(timeout=30)

    assert not errors, errors
    row = SubscriptionInvoice.objects.get(stripe_invoice_id=invoice_id)
    assert row.status == "open"  # finalized, applied after created
