"""What a renewal costs our side does not grow with the number of subscriptions: the same SQL
queries per renewal event, whether 2 or 4 subscriptions renew that day, and at most 3 Stripe
requests per renewal (one read of the subscription that cycled, one expanded read of the paid
invoice, one read of its charge for the ledger). Subscribers are imported through the API
(Customer with a default card, then ``POST /v1/subscriptions`` with the seller as
``transfer_data.destination``), their events handled by the real pipeline; then the sandbox
clock renews them."""

from __future__ import annotations

from collections import defaultdict

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from marketplace.events.models import StripeEvent
from marketplace.events.registry import handler_for, handlers_replaced, registered_types
from marketplace.events.services import processing
from payouts.models import LedgerTransaction
from sandbox import testing
from sandbox.models import RequestLog
from subscriptions import services
from subscriptions.models import Subscription, SubscriptionInvoice
from tests.factories import UserFactory

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.fixture
def manual_delivery(settings):
    settings.SANDBOX_WEBHOOK_DELIVERY = "manual"


def drain() -> None:
    while processing.events_drain(batch_size=200).processed:
        pass


def import_subscribers(plan, count: int) -> list[Subscription]:
    sdk = testing.stripe_client()
    percent = services.fee_percent(plan=plan)
    rows = []
    for _ in range(count):
        buyer = UserFactory()
        row = Subscription.objects.create(
            buyer=buyer,
            plan=plan,
            seller=plan.seller,
            currency=plan.currency,
            application_fee_percent=percent,
            amount=plan.amount,
            interval=plan.interval,
        )
        pm = sdk.v1.payment_methods.create({"type": "card", "card": {"token": "tok_visa"}})
        customer = sdk.v1.customers.create(
            {
                "email": buyer.email,
                "payment_method": pm.id,
                "invoice_settings": {"default_payment_method": pm.id},
            }
        )
        sdk.v1.subscriptions.create(
            {
                "customer": customer.id,
                "items": [{"price": plan.stripe_price_id, "quantity": 1}],
                "application_fee_percent": float(percent),
                "transfer_data": {"destination": plan.seller.stripe_account_id},
                "metadata": {"subscription_id": str(row.pk)},
            }
        )
        rows.append(row)
    testing.deliver_pending()
    drain()
    return rows


def last_request_id() -> int:
    return RequestLog.objects.order_by("-id").values_list("id", flat=True).first() or 0


def renew_month(renewing: int) -> tuple[dict[str, set[int]], int, int]:
    """One month on the clock; the renewal webhooks delivered and handled. Returns the SQL
    queries of each handled event by type, all the queries of intake and handling, and the
    Stripe requests the handlers made."""
    testing.advance(days=31, hours=2)  # both cohorts' drafts finalized (an hour) and paid
    per_type: dict[str, set[int]] = defaultdict(set)
    wrapped = {}
    for event_type in registered_types():
        handler = handler_for(event_type)
        if handler is None:
            continue

        def counted(event, handler=handler):
            with CaptureQueriesContext(connection) as queries:
                handler(event)
            per_type[event.type].add(len(queries.captured_queries))

        wrapped[event_type] = counted
    requests_before = last_request_id()
    with CaptureQueriesContext(connection) as everything, handlers_replaced(wrapped):
        testing.deliver_pending()
        drain()
    assert Subscription.objects.filter(status="active").count() == renewing
    return per_type, len(everything.captured_queries), last_request_id() - requests_before


def test_a_renewal_costs_the_same_with_twice_the_subscriptions(sandbox, manual_delivery, monthly):
    first = import_subscribers(monthly, 2)
    assert {s.status for s in Subscription.objects.filter(pk__in=[s.pk for s in first])} == {
        "active"
    }
    per_type_n, queries_n, requests_n = renew_month(renewing=2)
    import_subscribers(monthly, 2)
    per_type_2n, queries_2n, requests_2n = renew_month(renewing=4)

    # Each renewal's invoice is paid, in our records and in the ledger.
    renewals = SubscriptionInvoice.objects.filter(billing_reason="subscription_cycle")
    assert renewals.filter(status="paid").count() == 6
    assert renewals.exclude(charge_id="").count() == 6
    charges = set(renewals.values_list("charge_id", flat=True))
    recorded = LedgerTransaction.objects.filter(
        kind=LedgerTransaction.Kind.CHARGE, stripe_object_id__in=charges
    )
    assert recorded.count() == 6
    assert not StripeEvent.objects.exclude(status__in=["succeeded", "ignored"]).exists()

    # The invoice events of a renewal cost the same queries whatever the number renewing.
    for event_type in ("invoice.created", "invoice.finalized", "invoice.paid"):
        assert per_type_n[event_type], event_type
        assert max(per_type_2n[event_type]) <= max(per_type_n[event_type]), (
            event_type,
            per_type_n[event_type],
            per_type_2n[event_type],
        )
    # Intake and handling together: no more queries per renewal with twice the subscriptions
    # (the seller's own balance and payout events are the same each day: shared, not per
    # renewal).
    assert queries_2n / 4 <= queries_n / 2
    # At most three Stripe requests per renewal: the subscription re-read for the
    # ``customer.subscription.updated`` Stripe sends when the period cycles, the paid invoice
    # re-read (its subscription and payment expanded) and its charge read for the ledger.
    assert requests_n <= 3 * 2
    assert requests_2n <= 3 * 4
