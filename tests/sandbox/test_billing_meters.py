"""Billing meters, meter events (dedup by identifier), adjustments, and usage billed on the
metered price's invoice line at period end."""

from __future__ import annotations

import pytest
import stripe

from sandbox import testing
from sandbox.fidelity import check_list, check_object
from tests.sandbox.billinghelpers import customer_with_card
from tests.sandbox.payhelpers import as_json

DAY = 86400


def _meter(sdk, event_name: str = "lessons_taken", formula: str = "sum"):
    return sdk.v1.billing.meters.create(
        {
            "display_name": "Lessons taken",
            "event_name": event_name,
            "default_aggregation": {"formula": formula},
            "customer_mapping": {"event_payload_key": "stripe_customer_id", "type": "by_id"},
            "value_settings": {"event_payload_key": "value"},
        }
    )


def test_meter_crud_and_unique_event_name(sdk):
    meter = _meter(sdk)
    check_object(as_json(meter))
    assert meter.status == "active" and meter.default_aggregation.formula == "sum"
    assert meter.customer_mapping.event_payload_key == "stripe_customer_id"
    with pytest.raises(stripe.InvalidRequestError) as caught:
        _meter(sdk)
    assert caught.value.param == "event_name"
    listed = sdk.v1.billing.meters.list({"status": "active"})
    check_list(as_json(listed))
    assert [m.id for m in listed.data] == [meter.id]
    renamed = sdk.v1.billing.meters.update(meter.id, {"display_name": "Lessons"})
    assert renamed.display_name == "Lessons"
    off = sdk.v1.billing.meters.deactivate(meter.id)
    assert off.status == "inactive" and off.status_transitions.deactivated_at is not None
    assert sdk.v1.billing.meters.retrieve(meter.id).status == "inactive"
    # the name is free again once the meter is inactive
    again = _meter(sdk)
    with pytest.raises(stripe.InvalidRequestError):
        sdk.v1.billing.meters.reactivate(meter.id)
    sdk.v1.billing.meters.deactivate(again.id)
    assert sdk.v1.billing.meters.reactivate(meter.id).status == "active"


def test_meter_events_dedup_adjustment_and_refusals(sdk):
    meter = _meter(sdk)
    customer, _ = customer_with_card(sdk)
    event = sdk.v1.billing.meter_events.create(
        {
            "event_name": "lessons_taken",
            "payload": {"stripe_customer_id": customer.id, "value": "3"},
            "identifier": "usage-41",
        }
    )
    check_object(as_json(event))
    assert event.identifier == "usage-41" and event.payload["value"] == "3"
    with pytest.raises(stripe.InvalidRequestError) as caught:
        sdk.v1.billing.meter_events.create(
            {
                "event_name": "lessons_taken",
                "payload": {"stripe_customer_id": customer.id, "value": "3"},
                "identifier": "usage-41",
            }
        )
    assert caught.value.code == "resource_already_exists"
    sdk.v1.billing.meter_events.create(
        {
            "event_name": "lessons_taken",
            "payload": {"stripe_customer_id": customer.id, "value": "2"},
            "identifier": "usage-42",
        }
    )
    now = testing.now()
    summary = sdk.v1.billing.meters.event_summaries.list(
        meter.id, {"customer": customer.id, "start_time": now - DAY, "end_time": now + 60}
    )
    assert summary.data[0].aggregated_value == 5  # the duplicate counted once
    adjustment = sdk.v1.billing.meter_event_adjustments.create(
        {"event_name": "lessons_taken", "type": "cancel", "cancel": {"identifier": "usage-42"}}
    )
    check_object(as_json(adjustment))
    assert adjustment.status == "pending" and adjustment.cancel.identifier == "usage-42"
    summary = sdk.v1.billing.meters.event_summaries.list(
        meter.id, {"customer": customer.id, "start_time": now - DAY, "end_time": now + 60}
    )
    assert summary.data[0].aggregated_value == 3
    bad = [
        (
            {"event_name": "nope", "payload": {"stripe_customer_id": customer.id, "value": "1"}},
            "event_name",
        ),
        ({"event_name": "lessons_taken", "payload": {"value": "1"}}, "payload[stripe_customer_id]"),
        (
            {
                "event_name": "lessons_taken",
                "payload": {"stripe_customer_id": customer.id, "value": "-1"},
            },
            "payload[value]",
        ),
        (
            {
                "event_name": "lessons_taken",
                "payload": {"stripe_customer_id": "cus_nobody", "value": "1"},
            },
            "payload[stripe_customer_id]",
        ),
        (
            {
                "event_name": "lessons_taken",
                "payload": {"stripe_customer_id": customer.id, "value": "1"},
                "timestamp": now - 36 * DAY,
            },
            "timestamp",
        ),
    ]
    for params, param in bad:
        with pytest.raises(stripe.InvalidRequestError) as caught:
            sdk.v1.billing.meter_events.create(params)
        assert caught.value.param == param, params
    with pytest.raises(stripe.InvalidRequestError):
        sdk.v1.billing.meter_event_adjustments.create(
            {"event_name": "lessons_taken", "type": "cancel", "cancel": {"identifier": "usage-42"}}
        )


def test_usage_is_billed_on_the_renewal_invoice(sdk, seller):
    meter = _meter(sdk)
    product = sdk.v1.products.create({"name": "Lessons"})
    base = sdk.v1.prices.create(
        {
            "product": product.id,
            "currency": "eur",
            "unit_amount": 2000,
            "recurring": {"interval": "month"},
        }
    )
    per_lesson = sdk.v1.prices.create(
        {
            "product": product.id,
            "currency": "eur",
            "unit_amount": 1500,
            "recurring": {"interval": "month", "usage_type": "metered", "meter": meter.id},
        }
    )
    check_object(as_json(per_lesson))
    assert per_lesson.recurring.meter == meter.id
    customer, pm = customer_with_card(sdk)
    with pytest.raises(stripe.InvalidRequestError):  # no quantity on a metered item
        sdk.v1.subscriptions.create(
            {"customer": customer.id, "items": [{"price": per_lesson.id, "quantity": 2}]}
        )
    sub = sdk.v1.subscriptions.create(
        {
            "customer": customer.id,
            "items": [{"price": base.id}, {"price": per_lesson.id}],
            "default_payment_method": pm.id,
            "application_fee_percent": 10,
            "transfer_data": {"destination": seller.id},
        }
    )
    first = sdk.v1.invoices.retrieve(sub.latest_invoice)
    assert first.amount_paid == 2000  # usage is billed in arrears
    for n, value in enumerate(("2", "1", "4")):
        testing.advance(days=3)
        sdk.v1.billing.meter_events.create(
            {
                "event_name": "lessons_taken",
                "payload": {"stripe_customer_id": customer.id, "value": value},
                "identifier": f"lesson-{n}",
            }
        )
    sdk.v1.billing.meter_event_adjustments.create(
        {"event_name": "lessons_taken", "type": "cancel", "cancel": {"identifier": "lesson-2"}}
    )
    preview = sdk.v1.invoices.create_preview({"subscription": sub.id})
    end = sub["items"].data[0].current_period_end
    testing.advance(end - testing.now() + 3601)
    invoice = sdk.v1.invoices.retrieve(sdk.v1.subscriptions.retrieve(sub.id).latest_invoice)
    usage = [
        line for line in invoice.lines.data if line.pricing.price_details.price == per_lesson.id
    ]
    assert len(usage) == 1 and usage[0].quantity == 3 and usage[0].amount == 4500
    assert usage[0].period.end == end
    assert invoice.status == "paid" and invoice.amount_paid == 2000 + 4500
    assert preview.total == invoice.total
