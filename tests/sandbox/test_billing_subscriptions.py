"""Products and recurring prices, ``POST /v1/subscriptions`` (destination + application fee,
payment behaviours, trials), renewals and dunning on the sandbox clock, through the SDK."""

from __future__ import annotations

import pytest
import stripe

from sandbox import testing
from sandbox.fidelity import check_list, check_object
from tests.sandbox.billinghelpers import customer_with_card, event_types, events_of, plan, subscribe
from tests.sandbox.payhelpers import as_json, balance

DAY = 86400


# --- products and prices -----------------------------------------------------------------------
def test_recurring_prices_follow_stripes_limits(sdk):
    product = sdk.v1.products.create({"name": "Lessons"})
    for interval, count in (("day", 1095), ("week", 156), ("month", 36), ("year", 3)):
        price = sdk.v1.prices.create(
            {
                "product": product.id,
                "currency": "eur",
                "unit_amount": 500,
                "recurring": {"interval": interval, "interval_count": count},
            }
        )
        check_object(as_json(price))
        assert price.type == "recurring" and price.recurring.interval_count == count
        assert price.recurring.usage_type == "licensed" and price.recurring.meter is None
    for interval, count in (("day", 1096), ("week", 157), ("month", 37), ("year", 4)):
        with pytest.raises(stripe.InvalidRequestError) as caught:
            sdk.v1.prices.create(
                {
                    "product": product.id,
                    "currency": "eur",
                    "unit_amount": 500,
                    "recurring": {"interval": interval, "interval_count": count},
                }
            )
        assert caught.value.param == "recurring[interval_count]"
        assert "three years" in caught.value.user_message
    with pytest.raises(stripe.InvalidRequestError) as caught:
        sdk.v1.prices.create(
            {
                "product": product.id,
                "currency": "eur",
                "unit_amount": 500,
                "recurring": {"interval": "hour"},
            }
        )
    assert caught.value.param == "recurring[interval]"
    # metered needs a meter (legacy usage records are gone); a meter needs metered
    with pytest.raises(stripe.InvalidRequestError) as caught:
        sdk.v1.prices.create(
            {
                "product": product.id,
                "currency": "eur",
                "unit_amount": 500,
                "recurring": {"interval": "month", "usage_type": "metered"},
            }
        )
    assert caught.value.param == "recurring[meter]"
    assert sdk.v1.prices.list({"product": product.id, "limit": 100}).data.__len__() == 4


def test_price_active_toggle_and_product_update(sdk, seller):
    price = plan(sdk)
    off = sdk.v1.prices.update(price.id, {"active": False})
    assert off.active is False
    assert [p.id for p in sdk.v1.prices.list({"active": False}).data] == [price.id]
    customer, _pm = customer_with_card(sdk)
    with pytest.raises(stripe.InvalidRequestError) as caught:
        sdk.v1.subscriptions.create({"customer": customer.id, "items": [{"price": price.id}]})
    assert "inactive" in caught.value.user_message and caught.value.param == "items[0][price]"
    assert sdk.v1.prices.update(price.id, {"active": True}).active is True
    product = sdk.v1.products.update(
        price.product,
        {"name": "Mug club gold", "description": "Two mugs a month", "metadata": {"tier": "gold"}},
    )
    check_object(as_json(product))
    assert product.name == "Mug club gold" and product.metadata["tier"] == "gold"
    assert events_of("product.updated")[-1]["data"]["previous_attributes"]["name"] == "Mug club"
    with pytest.raises(stripe.InvalidRequestError):
        sdk.v1.products.update(price.product, {"name": ""})


# --- create -------------------------------------------------------------------------------------
def test_create_pays_first_invoice_as_destination_charge(sdk, seller):
    price = plan(sdk, amount=999)
    sub = subscribe(
        sdk, seller.id, price.id, application_fee_percent=12.5, expand=["latest_invoice.payments"]
    )
    check_object(as_json(sub))
    assert sub.status == "active" and sub.application_fee_percent == 12.5
    assert sub.transfer_data.destination == seller.id and sub.metadata["plan"] == "club"
    item = sub["items"].data[0]
    assert item.price.id == price.id and item.quantity == 1
    assert item.current_period_end - item.current_period_start >= 28 * DAY
    invoice = sub.latest_invoice
    check_object(as_json(invoice))
    assert invoice.status == "paid" and invoice.amount_paid == 999
    assert invoice.billing_reason == "subscription_create"
    assert f"/sandbox/invoice/{invoice.id}/" in invoice.hosted_invoice_url
    payment = invoice.payments.data[0]
    assert payment.status == "paid" and payment.payment.type == "payment_intent"
    pi = sdk.v1.payment_intents.retrieve(payment.payment.payment_intent)
    charge = sdk.v1.charges.retrieve(pi.latest_charge)
    # a destination charge: transfer to the seller, application fee 12.5 % rounded half up
    assert charge.transfer_data.destination == seller.id and charge.application_fee_amount == 125
    assert sum(balance(sdk, seller.id)) == 999 - 125
    assert event_types("customer.subscription")[:1] == ["customer.subscription.created"]
    for expected in (
        "invoice.created",
        "invoice.finalized",
        "invoice.paid",
        "invoice.payment_succeeded",
    ):
        assert expected in event_types("invoice.")
    listed = sdk.v1.subscriptions.list({"customer": sub.customer})
    check_list(as_json(listed))
    assert [s.id for s in listed.data] == [sub.id]


def test_default_incomplete_returns_the_confirmation_secret(sdk, seller):
    price = plan(sdk, amount=1500)
    customer = sdk.v1.customers.create({"email": "new@example.com"})
    sub = sdk.v1.subscriptions.create(
        {
            "customer": customer.id,
            "items": [{"price": price.id}],
            "payment_behavior": "default_incomplete",
            "payment_settings": {"save_default_payment_method": "on_subscription"},
            "application_fee_percent": 10,
            "transfer_data": {"destination": seller.id},
            "expand": ["latest_invoice.confirmation_secret", "latest_invoice.payments"],
        }
    )
    check_object(as_json(sub))
    assert sub.status == "incomplete"
    invoice = sub.latest_invoice
    assert invoice.status == "open" and invoice.attempt_count == 0
    secret = invoice.confirmation_secret
    assert secret.type == "payment_intent"
    pi_id = invoice.payments.data[0].payment.payment_intent
    assert secret.client_secret.startswith(pi_id + "_secret_")
    # without expand, the includable fields are absent as on Stripe
    plain = sdk.v1.invoices.retrieve(invoice.id)
    assert "confirmation_secret" not in plain and "payments" not in plain
    # the front end confirms the PaymentIntent: the invoice is paid, the subscription active,
    # and the card becomes the subscription's default (save_default_payment_method)
    pi = sdk.v1.payment_intents.confirm(pi_id, {"payment_method": "pm_card_visa"})
    assert pi.status == "succeeded" and pi.application_fee_amount == 150
    sub = sdk.v1.subscriptions.retrieve(sub.id)
    assert sub.status == "active" and sub.default_payment_method == pi.payment_method
    assert sdk.v1.invoices.retrieve(invoice.id).status == "paid"


def test_a_declined_confirmation_of_the_first_invoice_is_a_failed_attempt(sdk, seller):
    """Stripe.js confirms a ``default_incomplete`` subscription's first invoice with a card that
    is declined: the invoice counts the attempt and ``invoice.payment_failed`` is sent (Stripe:
    "whenever an invoice payment attempt fails"); the subscription stays incomplete, and a good
    card then pays the same invoice."""
    price = plan(sdk, amount=1500)
    customer = sdk.v1.customers.create({"email": "new@example.com"})
    sub = sdk.v1.subscriptions.create(
        {
            "customer": customer.id,
            "items": [{"price": price.id}],
            "payment_behavior": "default_incomplete",
            "application_fee_percent": 10,
            "transfer_data": {"destination": seller.id},
            "expand": ["latest_invoice.payments"],
        }
    )
    invoice = sub.latest_invoice
    pi_id = invoice.payments.data[0].payment.payment_intent
    assert events_of("invoice.payment_failed") == []
    with pytest.raises(stripe.CardError):
        sdk.v1.payment_intents.confirm(pi_id, {"payment_method": "pm_card_chargeDeclined"})
    failed = events_of("invoice.payment_failed")
    assert [e["data"]["object"]["id"] for e in failed] == [invoice.id]
    assert failed[0]["data"]["object"]["attempt_count"] == 1
    after = sdk.v1.invoices.retrieve(invoice.id)
    assert after.status == "open" and after.attempt_count == 1 and after.attempted
    assert after.next_payment_attempt is None  # no automatic retries for a first invoice
    assert sdk.v1.subscriptions.retrieve(sub.id).status == "incomplete"
    pi = sdk.v1.payment_intents.confirm(pi_id, {"payment_method": "pm_card_visa"})
    assert pi.status == "succeeded"
    assert sdk.v1.invoices.retrieve(invoice.id).status == "paid"
    assert sdk.v1.subscriptions.retrieve(sub.id).status == "active"
    assert len(events_of("invoice.payment_failed")) == 1


def test_payment_behaviours_on_a_declined_card(sdk, seller):
    price = plan(sdk)
    # allow_incomplete (default): 200, incomplete, the invoice open
    sub = subscribe(sdk, seller.id, price.id, card="pm_card_chargeCustomerFail")
    assert sub.status == "incomplete"
    invoice = sdk.v1.invoices.retrieve(sub.latest_invoice)
    assert invoice.status == "open" and invoice.attempt_count == 1
    assert "invoice.payment_failed" in event_types("invoice.")
    # error_if_incomplete: a 402 and nothing created
    before = len(sdk.v1.subscriptions.list({"status": "all"}).data)
    with pytest.raises(stripe.CardError):
        subscribe(
            sdk,
            seller.id,
            price.id,
            card="pm_card_chargeCustomerFail",
            payment_behavior="error_if_incomplete",
        )
    assert len(sdk.v1.subscriptions.list({"status": "all"}).data) == before
    # incomplete expires after 23 hours: incomplete_expired, its invoice voided
    testing.advance(hours=24)
    sub = sdk.v1.subscriptions.retrieve(sub.id)
    assert sub.status == "incomplete_expired" and sub.ended_at is not None
    assert sdk.v1.invoices.retrieve(sub.latest_invoice).status == "void"


def test_refusals(sdk, seller):
    price = plan(sdk)
    customer, pm = customer_with_card(sdk)
    base = {
        "customer": customer.id,
        "items": [{"price": price.id}],
        "default_payment_method": pm.id,
    }
    cases = [
        ({"trial_period_days": 731}, "trial_period_days"),
        ({"trial_end": testing.now() + 731 * DAY}, "trial_end"),
        ({"application_fee_percent": 10}, "application_fee_percent"),  # no destination
        (
            {"application_fee_percent": 101, "transfer_data": {"destination": seller.id}},
            "application_fee_percent",
        ),
        ({"payment_behavior": "pending_if_incomplete"}, "payment_behavior"),
        ({"collection_method": "send_invoice", "days_until_due": 30}, "days_until_due"),
        ({"default_payment_method": "pm_card_visa"}, "default_payment_method"),  # not attached
    ]
    for extra, param in cases:
        with pytest.raises(stripe.InvalidRequestError) as caught:
            sdk.v1.subscriptions.create({**base, **extra})
        assert caught.value.param == param, (extra, caught.value.user_message)
    other = sdk.v1.prices.create(
        {
            "product": price.product,
            "currency": "eur",
            "unit_amount": 100,
            "recurring": {"interval": "year"},
        }
    )
    with pytest.raises(stripe.InvalidRequestError) as caught:
        sdk.v1.subscriptions.create({**base, "items": [{"price": price.id}, {"price": other.id}]})
    assert "interval" in caught.value.user_message
    assert sdk.v1.subscriptions.list({"status": "all"}).data == []


# --- trials --------------------------------------------------------------------------------------
def test_trial_warns_three_days_before_and_bills_at_its_end(sdk, seller):
    price = plan(sdk, amount=2000)
    sub = subscribe(sdk, seller.id, price.id, trial_period_days=14)
    check_object(as_json(sub))
    assert sub.status == "trialing" and sub.trial_end - sub.trial_start == 14 * DAY
    first = sdk.v1.invoices.retrieve(sub.latest_invoice)
    assert first.status == "paid" and first.amount_due == 0 and first.total == 0
    assert balance(sdk, seller.id) == (0, 0)
    testing.advance(days=10)
    assert event_types("customer.subscription.trial_will_end") == []
    testing.advance(days=1, hours=1)  # 3 days minus one hour before the end
    warned = events_of("customer.subscription.trial_will_end")
    assert len(warned) == 1 and warned[0]["data"]["object"]["id"] == sub.id
    testing.advance(days=3)  # the trial ended (and the invoice's draft hour passed)
    sub = sdk.v1.subscriptions.retrieve(sub.id)
    assert sub.status == "active"
    invoice = sdk.v1.invoices.retrieve(sub.latest_invoice)
    assert invoice.status == "paid" and invoice.amount_paid == 2000
    assert invoice.billing_reason == "subscription_cycle"
    assert invoice.lines.data[0].period.start == sub.trial_end
    assert sum(balance(sdk, seller.id)) == 2000 - 200
    assert len(events_of("customer.subscription.trial_will_end")) == 1


def test_trial_without_card_pauses_and_resumes(sdk, seller):
    price = plan(sdk)
    customer = sdk.v1.customers.create({"email": "trial@example.com"})
    sub = sdk.v1.subscriptions.create(
        {
            "customer": customer.id,
            "items": [{"price": price.id}],
            "trial_period_days": 2,
            "trial_settings": {"end_behavior": {"missing_payment_method": "pause"}},
        }
    )
    # a trial of 3 days or less is warned at once
    assert len(events_of("customer.subscription.trial_will_end")) == 1
    testing.advance(days=3)
    sub = sdk.v1.subscriptions.retrieve(sub.id)
    assert sub.status == "paused"
    assert "customer.subscription.paused" in event_types("customer.subscription")
    pm = sdk.v1.payment_methods.attach("pm_card_visa", {"customer": customer.id})
    sdk.v1.subscriptions.update(sub.id, {"default_payment_method": pm.id})
    sub = sdk.v1.subscriptions.resume(sub.id, {"billing_cycle_anchor": {"type": "now"}})
    assert sub.status == "active"
    assert "customer.subscription.resumed" in event_types("customer.subscription")
    assert sdk.v1.invoices.retrieve(sub.latest_invoice).status == "paid"


# --- renewals and dunning ----------------------------------------------------------------------
def test_renewal_waits_an_hour_as_draft_then_is_paid(sdk, seller):
    price = plan(sdk, amount=1000, interval="week")
    sub = subscribe(sdk, seller.id, price.id)
    end = sub["items"].data[0].current_period_end
    testing.advance(end - testing.now() + 60)
    invoice = sdk.v1.invoices.retrieve(sdk.v1.subscriptions.retrieve(sub.id).latest_invoice)
    assert invoice.status == "draft" and invoice.billing_reason == "subscription_cycle"
    assert invoice.automatically_finalizes_at == end + 3600
    testing.advance(hours=1)
    invoice = sdk.v1.invoices.retrieve(invoice.id)
    assert invoice.status == "paid" and invoice.amount_paid == 1000
    transfers = sdk.v1.transfers.list({"destination": seller.id}).data
    assert sorted(t.amount for t in transfers) == [1000, 1000]  # destination charges
    fees = sdk.v1.application_fees.list({"limit": 10}).data
    assert sorted(f.amount for f in fees) == [100, 100]
    assert "invoice.upcoming" in event_types("invoice.")


def test_renewal_says_the_subscription_cycled(sdk, seller):
    """Stripe's way to tell a cycle (support.stripe.com, "How to determine when a subscription
    cycles using webhooks"): a ``customer.subscription.updated`` whose ``previous_attributes``
    has ``latest_invoice`` and, for each item, the old period ending where the new one starts.
    Sent when the period ends, with the renewal's invoice still a draft."""
    price = plan(sdk, amount=1000, interval="week")
    sub = subscribe(sdk, seller.id, price.id)
    first_invoice = sub.latest_invoice
    start, end = sub["items"].data[0].current_period_start, sub["items"].data[0].current_period_end
    testing.advance(end - testing.now() + 60)
    updated = [e for e in events_of("customer.subscription.updated") if e["created"] >= end]
    assert len(updated) == 1
    cycled = updated[0]["data"]
    renewal = sdk.v1.invoices.retrieve(cycled["object"]["latest_invoice"])
    assert renewal.status == "draft" and renewal.billing_reason == "subscription_cycle"
    assert cycled["previous_attributes"]["latest_invoice"] == first_invoice
    [old] = cycled["previous_attributes"]["items"]["data"]
    [new] = cycled["object"]["items"]["data"]
    assert (old["current_period_start"], old["current_period_end"]) == (start, end)
    assert new["current_period_start"] == old["current_period_end"] == end
    assert new["current_period_end"] == end + 7 * DAY
    # The renewal's own events: created now, finalized and paid after its draft hour.
    assert [e["type"] for e in testing.events() if e["data"]["object"].get("id") == renewal.id] == [
        "invoice.created"
    ]


@pytest.mark.parametrize("outcome", ["cancel", "unpaid", "past_due"])
def test_failing_renewal_goes_through_the_retries_to_the_end_state(sdk, seller, settings, outcome):
    settings.SANDBOX_BILLING_AFTER_RETRIES = outcome
    price = plan(sdk, amount=1000)
    sub = subscribe(sdk, seller.id, price.id)
    failing = sdk.v1.payment_methods.attach(
        "pm_card_chargeCustomerFail", {"customer": sub.customer}
    )
    sdk.v1.subscriptions.update(sub.id, {"default_payment_method": failing.id})
    end = sub["items"].data[0].current_period_end
    testing.advance(end - testing.now() + 3601)
    sub = sdk.v1.subscriptions.retrieve(sub.id)
    invoice = sdk.v1.invoices.retrieve(sub.latest_invoice)
    assert sub.status == "past_due"
    assert invoice.status == "open" and invoice.attempt_count == 1
    assert invoice.next_payment_attempt == pytest.approx(testing.now() + 3 * DAY, abs=5)
    for attempt, days in ((2, 3), (3, 5), (4, 7)):
        testing.advance(days=days)
        invoice = sdk.v1.invoices.retrieve(invoice.id)
        assert invoice.attempt_count == attempt
    assert invoice.next_payment_attempt is None
    assert len(events_of("invoice.payment_failed")) == 4
    sub = sdk.v1.subscriptions.retrieve(sub.id)
    if outcome == "cancel":
        assert sub.status == "canceled" and invoice.status == "uncollectible"
        assert sub.cancellation_details.reason == "payment_failed"
        return
    assert sub.status == outcome and invoice.status == "open"
    # the buyer pays the open invoice with a good card: the subscription is active again
    good = sdk.v1.payment_methods.attach("pm_card_visa", {"customer": sub.customer})
    paid = sdk.v1.invoices.pay(invoice.id, {"payment_method": good.id})
    assert paid.status == "paid"
    assert sdk.v1.subscriptions.retrieve(sub.id).status == "active"


def test_3ds_card_at_renewal_asks_for_action(sdk, seller):
    price = plan(sdk)
    sub = subscribe(sdk, seller.id, price.id)
    card = sdk.v1.payment_methods.attach(
        "pm_card_authenticationRequired", {"customer": sub.customer}
    )
    sdk.v1.subscriptions.update(sub.id, {"default_payment_method": card.id})
    testing.advance(days=32)
    sub = sdk.v1.subscriptions.retrieve(sub.id)
    assert sub.status == "past_due"
    assert "invoice.payment_action_required" in event_types("invoice.")
    invoice = sdk.v1.invoices.retrieve(sub.latest_invoice, {"expand": ["payments"]})
    pi = sdk.v1.payment_intents.retrieve(invoice.payments.data[0].payment.payment_intent)
    assert pi.status == "requires_action"


def test_trial_with_default_incomplete_collects_the_card_by_setup_intent(sdk, seller):
    price = plan(sdk, amount=1500)
    customer = sdk.v1.customers.create({"email": "later@example.com"})
    sub = sdk.v1.subscriptions.create(
        {
            "customer": customer.id,
            "items": [{"price": price.id}],
            "trial_period_days": 7,
            "payment_behavior": "default_incomplete",
            "payment_settings": {"save_default_payment_method": "on_subscription"},
            "transfer_data": {"destination": seller.id},
            "application_fee_percent": 10,
            "expand": ["pending_setup_intent"],
        }
    )
    check_object(as_json(sub))
    assert sub.status == "trialing" and sub.pending_setup_intent.status == "requires_payment_method"
    setup = sdk.v1.setup_intents.confirm(
        sub.pending_setup_intent.id, {"payment_method": "pm_card_visa"}
    )
    assert setup.status == "succeeded"
    sub = sdk.v1.subscriptions.retrieve(sub.id)
    assert sub.pending_setup_intent is None and sub.default_payment_method == setup.payment_method
    testing.advance(days=7, hours=2)
    sub = sdk.v1.subscriptions.retrieve(sub.id)
    assert sub.status == "active"
    assert sdk.v1.invoices.retrieve(sub.latest_invoice).amount_paid == 1500


def test_checkout_with_a_trial_completes_without_payment(sdk, web, seller):
    from tests.sandbox.payhelpers import pay

    price = plan(sdk, amount=800)
    session = sdk.v1.checkout.sessions.create(
        {
            "mode": "subscription",
            "line_items": [{"price": price.id, "quantity": 1}],
            "subscription_data": {
                "trial_period_days": 14,
                "application_fee_percent": 10,
                "transfer_data": {"destination": seller.id},
            },
            "success_url": "http://testserver/done/?session_id={CHECKOUT_SESSION_ID}",
        }
    )
    with pytest.raises(stripe.InvalidRequestError):
        sdk.v1.checkout.sessions.create(
            {
                "mode": "subscription",
                "line_items": [{"price": price.id, "quantity": 1}],
                "subscription_data": {"trial_period_days": 731},
                "success_url": "http://testserver/done/",
            }
        )
    assert pay(web, session).status_code == 302
    session = sdk.v1.checkout.sessions.retrieve(session.id, {"expand": ["subscription"]})
    assert session.status == "complete" and session.payment_status == "no_payment_required"
    sub = session.subscription
    assert sub.status == "trialing" and sub.default_payment_method
    testing.advance(days=14, hours=2)
    invoice = sdk.v1.invoices.retrieve(sdk.v1.subscriptions.retrieve(sub.id).latest_invoice)
    assert invoice.status == "paid" and invoice.amount_paid == 800


def test_subscription_items_and_list_filters(sdk, seller):
    a, b = plan(sdk, name="A"), plan(sdk, amount=500, name="B")
    first = subscribe(sdk, seller.id, a.id)
    second = subscribe(sdk, seller.id, b.id)
    items = sdk.v1.subscription_items.list({"subscription": first.id})
    check_list(as_json(items))
    item = sdk.v1.subscription_items.retrieve(items.data[0].id)
    check_object(as_json(item))
    assert item.price.id == a.id and item.subscription == first.id
    assert [s.id for s in sdk.v1.subscriptions.list({"price": b.id}).data] == [second.id]
    with pytest.raises(stripe.InvalidRequestError):
        sdk.v1.subscription_items.retrieve("si_nothere")


def test_invoice_payments_list_and_retrieve(sdk, seller):
    price = plan(sdk, amount=1300)
    sub = subscribe(sdk, seller.id, price.id)
    payments = sdk.v1.invoice_payments.list(
        {"invoice": sub.latest_invoice, "expand": ["data.payment.payment_intent"]}
    )
    check_list(as_json(payments))
    (payment,) = payments.data
    assert payment.status == "paid" and payment.amount_paid == 1300 and payment.is_default
    pi = payment.payment.payment_intent
    assert pi.status == "succeeded" and pi.amount == 1300
    again = sdk.v1.invoice_payments.retrieve(payment.id)
    assert again.invoice == sub.latest_invoice
    by_intent = sdk.v1.invoice_payments.list(
        {"payment": {"type": "payment_intent", "payment_intent": pi.id}}
    )
    assert [p.id for p in by_intent.data] == [payment.id]
    assert sdk.v1.invoice_payments.list({"status": "open"}).data == []
    with pytest.raises(stripe.InvalidRequestError):
        sdk.v1.invoice_payments.retrieve("inpay_nothere")
