"""Every billing object the sandbox stores, and every event it emitted along the way, matches
stripe-python's resource classes (full field sets, Stripe's enum values)."""

from __future__ import annotations

from sandbox import testing
from sandbox.fidelity import check_list, check_object
from sandbox.models import SandboxObject
from tests.sandbox.billinghelpers import customer_with_card, plan, subscribe
from tests.sandbox.payhelpers import as_json


def test_every_billing_object_and_event_matches_the_sdk(sdk, seller):
    meter = sdk.v1.billing.meters.create(
        {"display_name": "Seats", "event_name": "seats", "default_aggregation": {"formula": "sum"}}
    )
    product = sdk.v1.products.create({"name": "Seats"})
    metered = sdk.v1.prices.create(
        {
            "product": product.id,
            "currency": "eur",
            "unit_amount": 200,
            "recurring": {"interval": "month", "usage_type": "metered", "meter": meter.id},
        }
    )
    base = plan(sdk, amount=1000)
    upgrade = plan(sdk, amount=2500, name="Gold")
    sub = subscribe(sdk, seller.id, base.id, trial_period_days=5)
    customer, pm = customer_with_card(sdk)
    sub2 = sdk.v1.subscriptions.create(
        {
            "customer": customer.id,
            "items": [{"price": base.id}, {"price": metered.id}],
            "default_payment_method": pm.id,
            "application_fee_percent": 5,
            "transfer_data": {"destination": seller.id},
            "expand": ["latest_invoice.confirmation_secret", "latest_invoice.payments"],
        }
    )
    check_object(as_json(sub2))
    sdk.v1.billing.meter_events.create(
        {"event_name": "seats", "payload": {"stripe_customer_id": customer.id, "value": "4"}}
    )
    testing.advance(days=6, hours=2)  # the trial ends and is billed
    item = sdk.v1.subscriptions.retrieve(sub2.id)["items"].data[0]
    sdk.v1.subscriptions.update(sub2.id, {"items": [{"id": item.id, "price": upgrade.id}]})
    preview = sdk.v1.invoices.create_preview({"subscription": sub2.id})
    check_object(as_json(preview))
    sdk.v1.subscriptions.update(sub.id, {"pause_collection": {"behavior": "void"}})
    testing.advance(days=18)  # a week before the renewal: invoice.upcoming
    testing.advance(days=13)  # renewal with prorations and usage
    sdk.v1.subscriptions.cancel(sub2.id, {"prorate": True, "invoice_now": True})
    check_object(as_json(sdk.v1.billing_portal.sessions.create({"customer": customer.id})))
    check_list(as_json(sdk.v1.invoices.list({"limit": 100})))
    check_list(as_json(sdk.v1.subscriptions.list({"status": "all"})))
    check_list(as_json(sdk.v1.billing.meters.list()))
    kinds = set()
    billing = [
        "subscription",
        "invoice",
        "invoiceitem",
        "billing.meter",
        "billing_portal.session",
        "price",
        "product",
        "event",
        "payment_intent",
        "charge",
    ]
    for row in SandboxObject.objects.filter(object__in=billing):
        kinds.add(row.object)
        check_object(row.data)
    assert {
        "subscription",
        "invoice",
        "invoiceitem",
        "billing.meter",
        "billing_portal.session",
        "price",
        "product",
        "event",
    } <= kinds
    types = {e["type"] for e in testing.events()}
    for expected in (
        "customer.subscription.created",
        "customer.subscription.updated",
        "customer.subscription.deleted",
        "customer.subscription.trial_will_end",
        "invoice.created",
        "invoice.finalized",
        "invoice.paid",
        "invoice.payment_succeeded",
        "invoice.upcoming",
        "invoice.voided",
        "invoiceitem.created",
    ):
        assert expected in types, expected
