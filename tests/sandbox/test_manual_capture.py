"""Orders the seller accepts: ``capture_method=manual`` destination charges. The authorisation
holds the money (no transfer, no application fee), a capture moves only what is captured (partial
capture, the application fee set on capture), a cancel releases it, and an authorisation not
captured within 7 days of sandbox time lapses (canceled, ``cancellation_reason=automatic``)."""

from __future__ import annotations

import pytest
import stripe

from sandbox import testing
from sandbox.fidelity import check_object
from tests.sandbox.payhelpers import as_json, balance, destination_intent

DAY = 24 * 3600


def test_authorised_then_partially_captured_with_the_fee_on_capture(sdk, seller):
    pi = destination_intent(sdk, seller.id, amount=3000, fee=300, capture_method="manual")
    assert pi.status == "requires_capture" and pi.amount_capturable == 3000
    charge = sdk.v1.charges.retrieve(pi.latest_charge)
    assert charge.captured is False and charge.transfer is None and charge.application_fee is None
    assert charge.payment_method_details.card.capture_before == charge.created + 7 * DAY
    assert balance(sdk) == (0, 0) and balance(sdk, seller.id) == (0, 0)
    assert "payment_intent.amount_capturable_updated" in [e["type"] for e in testing.events()]

    # The seller can fill 2 of 3 items: capture 2000 with the fee for 2000.
    captured = sdk.v1.payment_intents.capture(
        pi.id, {"amount_to_capture": 2000, "application_fee_amount": 200}
    )
    check_object(as_json(captured))
    assert captured.status == "succeeded" and captured.amount_received == 2000
    assert captured.application_fee_amount == 200 and captured.amount_capturable == 0
    charge = sdk.v1.charges.retrieve(
        pi.latest_charge, {"expand": ["transfer", "application_fee", "balance_transaction"]}
    )
    assert (charge.amount_captured, charge.amount_refunded) == (2000, 1000)
    assert charge.transfer.amount == 2000 and charge.application_fee.amount == 200
    assert charge.balance_transaction.amount == 2000
    assert balance(sdk, seller.id) == (0, 1800)  # 2000 - the 200 fee


def test_a_fee_above_the_captured_amount_is_refused(sdk, seller):
    pi = destination_intent(sdk, seller.id, amount=3000, fee=300, capture_method="manual")
    with pytest.raises(stripe.InvalidRequestError) as caught:
        sdk.v1.payment_intents.capture(pi.id, {"amount_to_capture": 200})
    assert caught.value.param == "application_fee_amount"
    with pytest.raises(stripe.InvalidRequestError) as caught:
        sdk.v1.payment_intents.capture(pi.id, {"amount_to_capture": 3001})
    assert caught.value.param == "amount_to_capture"
    assert sdk.v1.payment_intents.retrieve(pi.id).status == "requires_capture"


def test_cancel_releases_the_authorisation(sdk, seller):
    pi = destination_intent(sdk, seller.id, capture_method="manual")
    canceled = sdk.v1.payment_intents.cancel(
        pi.id, {"cancellation_reason": "requested_by_customer"}
    )
    assert canceled.status == "canceled" and canceled.amount_capturable == 0
    assert canceled.cancellation_reason == "requested_by_customer"
    assert testing.events(event_type="payment_intent.canceled")
    charge = sdk.v1.charges.retrieve(pi.latest_charge)
    assert charge.refunded is True and charge.transfer is None
    assert balance(sdk, seller.id) == (0, 0)


def test_the_authorisation_lapses_after_seven_days_of_sandbox_time(sdk, seller):
    lapsing = destination_intent(sdk, seller.id, capture_method="manual")
    captured = destination_intent(sdk, seller.id, capture_method="manual")
    testing.advance(days=6)
    assert sdk.v1.payment_intents.retrieve(lapsing.id).status == "requires_capture"
    sdk.v1.payment_intents.capture(captured.id)
    testing.advance(days=1, minutes=1)
    expired = sdk.v1.payment_intents.retrieve(lapsing.id)
    assert expired.status == "canceled" and expired.cancellation_reason == "automatic"
    assert expired.amount_capturable == 0
    canceled_events = testing.events(event_type="payment_intent.canceled")
    assert [e["data"]["object"]["id"] for e in canceled_events] == [lapsing.id]
    expired_charges = testing.events(event_type="charge.expired")
    assert [e["data"]["object"]["id"] for e in expired_charges] == [lapsing.latest_charge]
    charge = sdk.v1.charges.retrieve(lapsing.latest_charge)
    assert charge.captured is False and charge.refunded is True and charge.transfer is None
    assert sdk.v1.payment_intents.retrieve(captured.id).status == "succeeded"
    # Capturing after the lapse is Stripe's unexpected-state error; nothing moves.
    with pytest.raises(stripe.InvalidRequestError) as caught:
        sdk.v1.payment_intents.capture(lapsing.id)
    assert caught.value.code == "payment_intent_unexpected_state"
    assert balance(sdk, seller.id)[1] == 1800  # only the captured one


def test_control_page_lists_authorisations_and_expires_one(sdk, seller, client):
    held = destination_intent(sdk, seller.id, capture_method="manual")
    page = client.get("/sandbox/")
    assert page.status_code == 200
    assert held.id in page.content.decode()
    response = client.post("/sandbox/action/expire_authorisation/", {"payment_intent": held.id})
    assert response.status_code == 302
    expired = sdk.v1.payment_intents.retrieve(held.id)
    assert expired.status == "canceled" and expired.cancellation_reason == "automatic"
    assert held.id not in client.get("/sandbox/panel/authorisations/").content.decode()
    again = client.post("/sandbox/action/expire_authorisation/", {"payment_intent": held.id})
    assert again.status_code == 302  # a message on the page, nothing changes
