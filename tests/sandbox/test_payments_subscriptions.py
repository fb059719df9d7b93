"""Checkout in subscription mode: subscription + first invoice paid as a destination charge
with application_fee_percent; renewals, failed payments and retries on the clock."""

from __future__ import annotations

import re

import pytest
import stripe

from sandbox import testing
from sandbox.fidelity import check_list, check_object
from sandbox.resources.subscriptions import add_interval, fee_for
from tests.sandbox.payhelpers import as_json, balance, page_error, page_path, pay


def params(destination: str, *, amount: int = 1000, percent: float = 10) -> dict:
    return {
        "mode": "subscription",
        "line_items": [
            {
                "price_data": {
                    "currency": "eur",
                    "unit_amount": amount,
                    "product_data": {"name": "Mug club"},
                    "recurring": {"interval": "month"},
                },
                "quantity": 1,
            }
        ],
        "subscription_data": {
            "application_fee_percent": percent,
            "transfer_data": {"destination": destination},
            "metadata": {"plan": "club"},
        },
        "success_url": "http://testserver/club/?session_id={CHECKOUT_SESSION_ID}",
        "customer_email": "member@example.com",
    }


def test_rules():
    assert fee_for(999, 12.5) == 125  # 124.875 -> 125
    assert fee_for(1000, 0.05) == 1  # 0.5 -> 1
    jan31 = 1769817600  # 2026-01-31 00:00 UTC
    assert add_interval(jan31, "month", 1) == 1772236800  # 2026-02-28


def test_checkout_page_words_a_subscription_as_stripe_does(sdk, web, seller):
    """The hosted page names the interval, and with a free trial says nothing is due today
    and offers to start the trial (not "Pay €10.00": the buyer pays nothing now)."""
    plain = sdk.v1.checkout.sessions.create(params(seller.id, amount=1000))
    page = web.get(page_path(plain)).content.decode()
    assert "per month" in page and "Total due today" in page
    assert re.search(r'id="checkout-total">€10\.00<', page)
    assert ">Subscribe</button>" in page and "Pay €10.00" not in page

    trial = params(seller.id, amount=1000)
    trial["subscription_data"]["trial_period_days"] = 14
    session = sdk.v1.checkout.sessions.create(trial)
    page = web.get(page_path(session)).content.decode()
    assert re.search(r'id="checkout-total">€0\.00<', page)
    assert "14 days free</strong>, then €10.00 per month" in page
    assert ">Start trial</button>" in page

    one_time = sdk.v1.checkout.sessions.create(
        {
            **params(seller.id),
            "mode": "payment",
            "line_items": [
                {
                    "price_data": {
                        "currency": "eur",
                        "unit_amount": 500,
                        "product_data": {"name": "Mug"},
                    },
                    "quantity": 2,
                }
            ],
            "subscription_data": None,
        }
    )
    page = web.get(page_path(one_time)).content.decode()
    assert "Pay €10.00" in page and "due today" not in page and "per month" not in page


def test_subscription_checkout_then_renewal_and_dunning(sdk, web, seller):
    session = sdk.v1.checkout.sessions.create(params(seller.id, amount=999, percent=12.5))
    check_object(as_json(session))
    assert session.mode == "subscription" and session.amount_total == 999
    declined = pay(web, session, "4000000000000002", email="ignored@example.com")
    assert declined.status_code == 402 and page_error(declined) == "Your card was declined."
    assert pay(web, session).status_code == 302
    session = sdk.v1.checkout.sessions.retrieve(session.id, {"expand": ["subscription", "invoice"]})
    check_object(as_json(session))
    assert session.status == "complete" and session.payment_status == "paid"
    sub = session.subscription
    assert sub.status == "active" and sub.application_fee_percent == 12.5
    assert sub.transfer_data.destination == seller.id and sub.metadata["plan"] == "club"
    customer = sdk.v1.customers.retrieve(sub.customer)
    assert customer.email == "member@example.com"
    invoice = session.invoice
    assert invoice.status == "paid" and invoice.amount_paid == 999 and invoice.attempt_count == 2
    assert sum(balance(sdk, seller.id)) == 999 - 125  # fee 12.5% of 9.99 rounded half up
    types = [e["type"] for e in testing.events()]
    for expected in (
        "customer.subscription.created",
        "invoice.finalized",
        "invoice.payment_failed",
        "invoice.paid",
        "customer.subscription.updated",
        "checkout.session.completed",
    ):
        assert expected in types

    # renewal a month later, paid with the saved card
    testing.advance(days=32)
    invoices = sdk.v1.invoices.list({"subscription": sub.id})
    check_list(as_json(invoices))
    assert [i.status for i in invoices.data] == ["paid", "paid"]
    assert invoices.data[0].billing_reason == "subscription_cycle"

    # the card starts failing: past_due, retries every 3 days, then canceled
    failing = sdk.v1.payment_methods.attach(
        "pm_card_chargeCustomerFail", {"customer": sub.customer}
    )
    sdk.v1.subscriptions.update(sub.id, {"default_payment_method": failing.id})
    testing.advance(days=31)
    sub = sdk.v1.subscriptions.retrieve(sub.id)
    assert sub.status == "past_due"
    latest = sdk.v1.invoices.retrieve(sub.latest_invoice)
    assert latest.status == "open" and latest.attempt_count == 1
    assert latest.next_payment_attempt is not None
    for days in (3, 5, 7):  # the retry schedule (SANDBOX_BILLING_RETRY_DAYS)
        testing.advance(days=days)
    latest = sdk.v1.invoices.retrieve(sub.latest_invoice)
    assert latest.attempt_count == 4 and latest.status == "uncollectible"
    sub = sdk.v1.subscriptions.retrieve(sub.id)
    assert sub.status == "canceled"
    check_object(as_json(sub))
    assert "customer.subscription.deleted" in [e["type"] for e in testing.events()]


def test_cancel_at_period_end_and_cancel(sdk, web, seller):
    session = sdk.v1.checkout.sessions.create(params(seller.id))
    pay(web, session)
    sub_id = sdk.v1.checkout.sessions.retrieve(session.id).subscription
    updated = sdk.v1.subscriptions.update(sub_id, {"cancel_at_period_end": True})
    assert updated.cancel_at_period_end
    testing.advance(days=32)
    assert sdk.v1.subscriptions.retrieve(sub_id).status == "canceled"
    assert len(sdk.v1.invoices.list({"subscription": sub_id}).data) == 1
    with pytest.raises(stripe.InvalidRequestError):
        sdk.v1.subscriptions.cancel(sub_id)


def test_subscription_mode_validation(sdk, seller):
    bad = params(seller.id)
    bad["line_items"][0]["price_data"].pop("recurring")
    with pytest.raises(stripe.InvalidRequestError):
        sdk.v1.checkout.sessions.create(bad)
    bad = params(seller.id, percent=101)
    with pytest.raises(stripe.InvalidRequestError) as caught:
        sdk.v1.checkout.sessions.create(bad)
    assert caught.value.param == "subscription_data[application_fee_percent]"
