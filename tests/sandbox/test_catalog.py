"""Customers, PaymentMethods (Stripe's test cards), Products and Prices through the SDK."""

from __future__ import annotations

import json

import pytest
import stripe

from sandbox import cards, testing
from sandbox.fidelity import check_list, check_object


def as_json(obj) -> dict:
    return json.loads(str(obj))


@pytest.fixture(autouse=True)
def _manual(settings):
    settings.SANDBOX_WEBHOOK_DELIVERY = "manual"


def test_customer_lifecycle_and_events(sdk):
    customer = sdk.v1.customers.create(
        {"email": "buyer@example.com", "name": "Bo", "metadata": {"user": "7"}}
    )
    check_object(as_json(customer))
    assert customer.id.startswith("cus_")
    updated = sdk.v1.customers.update(customer.id, {"name": "Bo B."})
    assert updated.name == "Bo B."
    found = sdk.v1.customers.list({"email": "buyer@example.com"})
    check_list(as_json(found))
    assert [c.id for c in found.data] == [customer.id]
    assert sdk.v1.customers.delete(customer.id).deleted is True
    assert sdk.v1.customers.retrieve(customer.id).deleted is True
    types = [e["type"] for e in testing.events()]
    assert types == ["customer.created", "customer.updated", "customer.deleted"]
    for event in testing.events():
        check_object(event)


def test_test_card_tokens_become_payment_methods(sdk):
    pm = sdk.v1.payment_methods.retrieve("pm_card_visa")
    check_object(as_json(pm))
    assert pm.id.startswith("pm_") and pm.id != "pm_card_visa"
    assert (pm.card.brand, pm.card.last4, pm.type) == ("visa", "4242", "card")
    declined = sdk.v1.payment_methods.retrieve("pm_card_chargeDeclined")
    assert cards.behaviour(cards.number_of(declined.id)).decline_code == "generic_decline"


def test_raw_card_numbers_and_bad_numbers(sdk):
    pm = sdk.v1.payment_methods.create(
        {
            "type": "card",
            "card": {"number": "4000002500003155", "exp_month": 12, "exp_year": 2031},
        }
    )
    assert pm.card.exp_year == 2031
    assert cards.behaviour(cards.number_of(pm.id)).requires_action is True
    with pytest.raises(stripe.CardError) as caught:
        sdk.v1.payment_methods.create(
            {
                "type": "card",
                "card": {"number": "4242424242424241", "exp_month": 1, "exp_year": 2031},
            }
        )
    assert caught.value.code == "incorrect_number"


def test_attach_detach_and_list_for_a_customer(sdk):
    customer = sdk.v1.customers.create({"email": "b@example.com"})
    pm = sdk.v1.payment_methods.attach("pm_card_mastercard", {"customer": customer.id})
    assert pm.customer == customer.id
    sdk.v1.customers.update(customer.id, {"invoice_settings": {"default_payment_method": pm.id}})
    listed = sdk.v1.customers.payment_methods.list(customer.id)
    check_list(as_json(listed))
    assert [m.id for m in listed.data] == [pm.id]
    other = sdk.v1.customers.create({"email": "c@example.com"})
    with pytest.raises(stripe.InvalidRequestError):
        sdk.v1.payment_methods.attach(pm.id, {"customer": other.id})
    detached = sdk.v1.payment_methods.detach(pm.id)
    assert detached.customer is None
    assert sdk.v1.customers.retrieve(customer.id).invoice_settings.default_payment_method is None
    assert sdk.v1.payment_methods.list({"customer": customer.id}).data == []
    with pytest.raises(stripe.InvalidRequestError):
        sdk.v1.payment_methods.detach(pm.id)
    types = [e["type"] for e in testing.events() if e["type"].startswith("payment_method")]
    assert types == ["payment_method.attached", "payment_method.detached"]


def test_products_and_one_time_and_recurring_prices(sdk):
    product = sdk.v1.products.create({"name": "Mug", "metadata": {"listing": "3"}})
    check_object(as_json(product))
    one_time = sdk.v1.prices.create({"product": product.id, "currency": "EUR", "unit_amount": 1500})
    check_object(as_json(one_time))
    assert (one_time.type, one_time.currency, one_time.recurring) == ("one_time", "eur", None)
    monthly = sdk.v1.prices.create(
        {
            "currency": "eur",
            "unit_amount": 500,
            "recurring": {"interval": "month"},
            "product_data": {"name": "Mug club"},
        }
    )
    check_object(as_json(monthly))
    assert monthly.type == "recurring"
    assert (monthly.recurring.interval, monthly.recurring.interval_count) == ("month", 1)
    archived = sdk.v1.prices.update(one_time.id, {"active": False})
    assert archived.active is False
    active = sdk.v1.prices.list({"active": True})
    check_list(as_json(active))
    assert [p.id for p in active.data] == [monthly.id]
    assert [p.id for p in sdk.v1.prices.list({"product": product.id}).data] == [one_time.id]
    paused = sdk.v1.products.update(product.id, {"active": False})
    assert paused.active is False and paused.updated >= product.updated
    with pytest.raises(stripe.InvalidRequestError):
        sdk.v1.products.delete(product.id)  # it has prices, as Stripe refuses
    expanded = sdk.v1.prices.retrieve(monthly.id, {"expand": ["product"]})
    assert expanded.product.name == "Mug club"
    for event in testing.events():
        check_object(event)


def test_product_with_default_price_data(sdk):
    product = sdk.v1.products.create(
        {"name": "Poster", "default_price_data": {"currency": "usd", "unit_amount": 900}}
    )
    price = sdk.v1.prices.retrieve(product.default_price)
    assert price.unit_amount == 900 and price.product == product.id


def test_list_pagination_with_cursors(sdk):
    ids = [sdk.v1.products.create({"name": f"P{i}"}).id for i in range(5)]
    newest_first = list(reversed(ids))
    page1 = sdk.v1.products.list({"limit": 2})
    assert [p.id for p in page1.data] == newest_first[:2] and page1.has_more
    page2 = sdk.v1.products.list({"limit": 2, "starting_after": page1.data[-1].id})
    assert [p.id for p in page2.data] == newest_first[2:4] and page2.has_more
    page3 = sdk.v1.products.list({"limit": 2, "starting_after": page2.data[-1].id})
    assert [p.id for p in page3.data] == newest_first[4:] and not page3.has_more
    back = sdk.v1.products.list({"limit": 2, "ending_before": page3.data[0].id})
    assert [p.id for p in back.data] == newest_first[2:4]
    # The SDK's auto-pagination walks every page.
    assert [p.id for p in sdk.v1.products.list({"limit": 2}).auto_paging_iter()] == newest_first


def test_created_filter(sdk):
    old = sdk.v1.products.create({"name": "old"})
    testing.advance(100)
    new = sdk.v1.products.create({"name": "new"})
    listed = sdk.v1.products.list({"created": {"gte": old.created + 50}})
    assert [p.id for p in listed.data] == [new.id]


def test_objects_are_scoped_to_the_connected_account(sdk):
    from tests.sandbox.test_accounts import create_express

    account = create_express(sdk)
    on_account = sdk.v1.products.create({"name": "Direct"}, options={"stripe_account": account.id})
    with pytest.raises(stripe.InvalidRequestError) as caught:
        sdk.v1.products.retrieve(on_account.id)
    assert caught.value.http_status == 404
    assert sdk.v1.products.retrieve(on_account.id, options={"stripe_account": account.id}).id == (
        on_account.id
    )
    [event] = testing.events(event_type="product.created")
    assert event["account"] == account.id


def test_events_list_filters(sdk, settings, hook, receiver, django_capture_on_commit_callbacks):
    settings.SANDBOX_WEBHOOK_DELIVERY = "inline"
    hook("platform")
    receiver.answers["platform"] = [500]
    with django_capture_on_commit_callbacks(execute=True):
        failing = sdk.v1.customers.create({"email": "x@example.com"})
    with django_capture_on_commit_callbacks(execute=True):
        sdk.v1.products.create({"name": "Mug"})
    created = sdk.v1.events.list({"type": "customer.created"})
    assert [e.data.object.id for e in created.data] == [failing.id]
    assert {e.type for e in sdk.v1.events.list({"type": "product.*"}).data} == {"product.created"}
    both = sdk.v1.events.list({"types": ["customer.created", "product.created"]})
    assert len(both.data) == 2
    assert [e.type for e in sdk.v1.events.list({"delivery_success": False}).data] == [
        "customer.created"
    ]
    assert [e.type for e in sdk.v1.events.list({"delivery_success": True}).data] == [
        "product.created"
    ]
    later = sdk.v1.events.list({"created": {"gt": testing.now() + 10}})
    assert later.data == []
