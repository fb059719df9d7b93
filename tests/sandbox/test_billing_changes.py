"""Plan changes with proration (and their preview), cancel at period end and resume, immediate
cancel with proration credit, pause_collection: through the SDK on the sandbox clock."""

from __future__ import annotations

import pytest
import stripe

from sandbox import testing
from sandbox.fidelity import check_object
from tests.sandbox.billinghelpers import event_types, events_of, plan, subscribe
from tests.sandbox.payhelpers import as_json

DAY = 86400


def _upgrade(sdk, seller, *, behavior: str | None = None):
    basic = plan(sdk, amount=1000, name="Basic")
    pro = plan(sdk, amount=3000, name="Pro")
    sub = subscribe(sdk, seller.id, basic.id)
    testing.advance(days=10)
    item = sub["items"].data[0]
    at = testing.now()
    change = {"items": [{"id": item.id, "price": pro.id}], "proration_date": at}
    if behavior:
        change["proration_behavior"] = behavior
    return sub, item, pro, at, change


def _expected(item, at: int, amount: int) -> int:
    start, end = item.current_period_start, item.current_period_end
    share = (end - at) / (end - start)
    return int(amount * share + 0.5)


def test_preview_equals_the_next_invoice_after_create_prorations(sdk, seller):
    sub, item, pro, at, change = _upgrade(sdk, seller)
    preview = sdk.v1.invoices.create_preview(
        {
            "customer": sub.customer,
            "subscription": sub.id,
            "subscription_details": {
                "items": change["items"],
                "proration_date": at,
                "proration_behavior": "create_prorations",
            },
        }
    )
    check_object(as_json(preview))
    prorations = [
        line for line in preview.lines.data if line.parent.subscription_item_details.proration
    ]
    credit, charge = sorted(line.amount for line in prorations)
    assert credit == -_expected(item, at, 1000) and charge == _expected(item, at, 3000)
    assert "Unused time on Basic" in min(prorations, key=lambda line: line.amount).description
    # the preview changed nothing
    assert sdk.v1.subscriptions.retrieve(sub.id)["items"].data[0].price.id != pro.id
    updated = sdk.v1.subscriptions.update(sub.id, change)
    assert updated["items"].data[0].price.id == pro.id
    assert updated["items"].data[0].current_period_end == item.current_period_end
    created = events_of("invoiceitem.created")
    assert sorted(e["data"]["object"]["amount"] for e in created) == [credit, charge]
    assert all(e["data"]["object"]["proration"] for e in created)
    # the next real invoice (the renewal) carries the same lines and total
    testing.advance(item.current_period_end - testing.now() + 3601)
    invoice = sdk.v1.invoices.retrieve(sdk.v1.subscriptions.retrieve(sub.id).latest_invoice)
    assert invoice.billing_reason == "subscription_cycle" and invoice.status == "paid"
    assert [line.amount for line in invoice.lines.data] == [
        line.amount for line in preview.lines.data
    ]
    assert invoice.total == preview.total == credit + charge + 3000
    lines = sdk.v1.invoices.line_items.list(invoice.id)
    assert [line.parent.subscription_item_details.proration for line in lines.data] == [
        True,
        True,
        False,
    ]


def test_always_invoice_charges_the_proration_now(sdk, seller):
    sub, item, _pro, at, change = _upgrade(sdk, seller, behavior="always_invoice")
    preview = sdk.v1.invoices.create_preview(
        {
            "subscription": sub.id,
            "subscription_details": {
                "items": change["items"],
                "proration_date": at,
                "proration_behavior": "always_invoice",
            },
        }
    )
    updated = sdk.v1.subscriptions.update(sub.id, change)
    invoice = sdk.v1.invoices.retrieve(updated.latest_invoice)
    assert invoice.billing_reason == "subscription_update" and invoice.status == "paid"
    assert (
        invoice.amount_paid
        == preview.amount_due
        == _expected(item, at, 3000) - _expected(item, at, 1000)
    )
    transfers = sdk.v1.transfers.list({"destination": seller.id}).data
    assert sorted(t.amount for t in transfers) == sorted([1000, invoice.amount_paid])


def test_proration_none_and_interval_change(sdk, seller):
    sub, item, _pro, at, change = _upgrade(sdk, seller, behavior="none")
    updated = sdk.v1.subscriptions.update(sub.id, change)
    assert updated.latest_invoice == sub.latest_invoice
    assert events_of("invoiceitem.created") == []
    # a yearly price resets the billing cycle and invoices at once (credit for the unused month)
    yearly = plan(sdk, amount=30000, interval="year", name="Pro yearly")
    updated = sdk.v1.subscriptions.update(
        sub.id, {"items": [{"id": item.id, "price": yearly.id}], "proration_date": at}
    )
    new_item = updated["items"].data[0]
    assert new_item.current_period_start == at
    assert new_item.current_period_end - at >= 365 * DAY
    invoice = sdk.v1.invoices.retrieve(updated.latest_invoice)
    assert invoice.status == "paid"
    assert invoice.total == 30000 - _expected(item, at, 3000)


def test_cancel_at_period_end_then_resume(sdk, seller):
    price = plan(sdk)
    sub = subscribe(sdk, seller.id, price.id)
    end = sub["items"].data[0].current_period_end
    sub = sdk.v1.subscriptions.update(sub.id, {"cancel_at_period_end": True})
    assert sub.cancel_at_period_end and sub.cancel_at == end
    assert sub.cancellation_details.reason == "cancellation_requested"
    with pytest.raises(stripe.InvalidRequestError):  # no next invoice: it ends
        sdk.v1.invoices.create_preview({"subscription": sub.id})
    sub = sdk.v1.subscriptions.update(sub.id, {"cancel_at_period_end": False})
    assert not sub.cancel_at_period_end and sub.cancel_at is None
    previous = events_of("customer.subscription.updated")[-1]["data"]["previous_attributes"]
    assert previous["cancel_at_period_end"] is True
    testing.advance(end - testing.now() + 3601)
    sub = sdk.v1.subscriptions.retrieve(sub.id)
    assert sub.status == "active"
    assert sdk.v1.invoices.retrieve(sub.latest_invoice).status == "paid"


def test_cancel_now_with_proration_credit_and_final_invoice(sdk, seller):
    price = plan(sdk, amount=3000)
    sub = subscribe(sdk, seller.id, price.id)
    testing.advance(days=15)
    item = sub["items"].data[0]
    canceled = sdk.v1.subscriptions.cancel(sub.id, {"prorate": True, "invoice_now": True})
    check_object(as_json(canceled))
    assert canceled.status == "canceled" and canceled.ended_at is not None
    final = sdk.v1.invoices.retrieve(canceled.latest_invoice)
    assert final.total < 0 and final.amount_due == 0 and final.status == "paid"
    credit = -final.total
    assert abs(credit - _expected(item, testing.now(), 3000)) <= 2
    customer = sdk.v1.customers.retrieve(sub.customer)
    assert customer.balance == -credit  # a credit for the customer's next invoice
    assert "customer.subscription.deleted" in event_types("customer.subscription")
    with pytest.raises(stripe.InvalidRequestError):
        sdk.v1.subscriptions.update(sub.id, {"cancel_at_period_end": True})


@pytest.mark.parametrize(
    ("behavior", "status"),
    [("void", "void"), ("mark_uncollectible", "uncollectible"), ("keep_as_draft", "draft")],
)
def test_pause_collection(sdk, seller, behavior, status):
    price = plan(sdk, amount=1000, interval="week")
    sub = subscribe(sdk, seller.id, price.id)
    resumes = testing.now() + 10 * DAY
    sub = sdk.v1.subscriptions.update(
        sub.id, {"pause_collection": {"behavior": behavior, "resumes_at": resumes}}
    )
    assert sub.pause_collection.behavior == behavior and sub.status == "active"
    testing.advance(days=7, hours=2)
    invoice = sdk.v1.invoices.retrieve(sdk.v1.subscriptions.retrieve(sub.id).latest_invoice)
    assert invoice.status == status and invoice.amount_paid == 0
    testing.advance(days=3)
    assert sdk.v1.subscriptions.retrieve(sub.id).pause_collection is None
    testing.advance(days=4, hours=2)
    invoice = sdk.v1.invoices.retrieve(sdk.v1.subscriptions.retrieve(sub.id).latest_invoice)
    assert invoice.status == "paid"


def test_invoice_void_finalize_and_mark_uncollectible_rules(sdk, seller):
    price = plan(sdk)
    sub = subscribe(sdk, seller.id, price.id, payment_behavior="default_incomplete")
    invoice = sdk.v1.invoices.retrieve(sub.latest_invoice)
    assert invoice.status == "open"
    with pytest.raises(stripe.InvalidRequestError):
        sdk.v1.invoices.finalize_invoice(invoice.id)
    voided = sdk.v1.invoices.void_invoice(invoice.id)
    assert voided.status == "void" and voided.status_transitions.voided_at is not None
    with pytest.raises(stripe.InvalidRequestError):
        sdk.v1.invoices.pay(invoice.id)
    with pytest.raises(stripe.InvalidRequestError):
        sdk.v1.invoices.mark_uncollectible(invoice.id)
    assert "invoice.voided" in event_types("invoice.")
