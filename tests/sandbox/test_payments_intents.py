"""PaymentIntents and Charges through the API: test card tokens, declines, manual capture,
cancel, 3D Secure with a return_url (SDK and Django test client only)."""

from __future__ import annotations

import pytest
import stripe

from sandbox import testing
from sandbox.fidelity import check_list, check_object
from tests.sandbox.payhelpers import as_json, balance, destination_intent


def test_create_then_confirm_with_pm_card_visa(sdk, seller):
    pi = sdk.v1.payment_intents.create(
        {
            "amount": 1500,
            "currency": "eur",
            "metadata": {"order": "7"},
            "transfer_data": {"destination": seller.id},
            "application_fee_amount": 150,
        }
    )
    check_object(as_json(pi))
    assert pi.status == "requires_payment_method" and pi.client_secret.startswith(
        pi.id + "_secret_"
    )
    pi = sdk.v1.payment_intents.confirm(pi.id, {"payment_method": "pm_card_visa"})
    check_object(as_json(pi))
    assert pi.status == "succeeded" and pi.amount_received == 1500
    charge = sdk.v1.charges.retrieve(pi.latest_charge)
    check_object(as_json(charge))
    assert charge.payment_intent == pi.id and charge.metadata["order"] == "7"
    assert charge.application_fee_amount == 150 and charge.application_fee.startswith("fee_")
    assert charge.transfer.startswith("tr_") and charge.transfer_data.destination == seller.id
    assert charge.receipt_url.endswith(f"/sandbox/receipts/{charge.id}/")
    assert [e["type"] for e in testing.events()][-6:] == [
        "payment_intent.created",
        "charge.succeeded",
        "transfer.created",
        "application_fee.created",
        "charge.updated",
        "payment_intent.succeeded",
    ]
    listed = sdk.v1.charges.list({"payment_intent": pi.id})
    check_list(as_json(listed))
    assert [c.id for c in listed.data] == [charge.id]


def test_receipt_page(sdk, seller, client):
    pi = destination_intent(sdk, seller.id)
    charge = sdk.v1.charges.retrieve(pi.latest_charge)
    page = client.get(charge.receipt_url.replace("http://testserver", ""))
    assert page.status_code == 200 and "€20.00" in page.content.decode() and b"4242" in page.content


@pytest.mark.parametrize(
    "token, code, decline_code",
    [
        ("pm_card_chargeDeclined", "card_declined", "generic_decline"),
        ("pm_card_chargeDeclinedInsufficientFunds", "card_declined", "insufficient_funds"),
        ("pm_card_chargeDeclinedExpiredCard", "expired_card", "expired_card"),
    ],
)
def test_decline_tokens(sdk, seller, token, code, decline_code):
    with pytest.raises(stripe.CardError) as caught:
        destination_intent(sdk, seller.id, payment_method=token)
    error = caught.value
    assert error.http_status == 402 and error.code == code
    assert error.error.decline_code == decline_code
    pi = sdk.v1.payment_intents.retrieve(error.error.payment_intent.id)
    assert pi.status == "requires_payment_method"
    assert pi.last_payment_error.decline_code == decline_code
    charge = sdk.v1.charges.retrieve(pi.latest_charge)
    check_object(as_json(charge))
    assert charge.status == "failed" and charge.failure_code == code and not charge.paid
    assert charge.balance_transaction is None and charge.transfer is None
    assert balance(sdk) == (0, 0) and balance(sdk, seller.id) == (0, 0)
    types = [e["type"] for e in testing.events()]
    assert "charge.failed" in types and "payment_intent.payment_failed" in types


def test_manual_capture_and_partial_capture(sdk, seller):
    pi = destination_intent(sdk, seller.id, capture_method="manual")
    assert pi.status == "requires_capture" and pi.amount_capturable == 2000
    charge = sdk.v1.charges.retrieve(pi.latest_charge)
    assert charge.captured is False and charge.balance_transaction is None
    assert balance(sdk) == (0, 0)
    pi = sdk.v1.payment_intents.capture(pi.id, {"amount_to_capture": 1500})
    check_object(as_json(pi))
    assert pi.status == "succeeded" and pi.amount_received == 1500
    charge = sdk.v1.charges.retrieve(
        pi.latest_charge, {"expand": ["transfer", "balance_transaction"]}
    )
    assert (charge.amount_captured, charge.amount_refunded) == (1500, 500)
    assert charge.transfer.amount == 1500
    assert charge.balance_transaction.amount == 1500
    assert charge.balance_transaction.fee == 74  # 1500 * 2.9% = 43.5 -> 44, + 30
    assert balance(sdk, seller.id) == (0, 1300)
    assert "charge.captured" in [e["type"] for e in testing.events()]
    with pytest.raises(stripe.InvalidRequestError):
        sdk.v1.payment_intents.capture(pi.id)


def test_cancel(sdk, seller):
    pi = sdk.v1.payment_intents.create({"amount": 1000, "currency": "eur"})
    canceled = sdk.v1.payment_intents.cancel(pi.id, {"cancellation_reason": "abandoned"})
    assert canceled.status == "canceled" and canceled.cancellation_reason == "abandoned"
    with pytest.raises(stripe.InvalidRequestError) as caught:
        sdk.v1.payment_intents.confirm(pi.id, {"payment_method": "pm_card_visa"})
    assert caught.value.code == "payment_intent_unexpected_state"
    held = destination_intent(sdk, seller.id, capture_method="manual")
    released = sdk.v1.payment_intents.cancel(held.id)
    assert released.status == "canceled"
    charge = sdk.v1.charges.retrieve(held.latest_charge)
    assert charge.refunded is True and charge.amount_refunded == 2000
    assert balance(sdk, seller.id) == (0, 0)


def test_direct_3d_secure_with_return_url(sdk, seller, client):
    pi = destination_intent(
        sdk,
        seller.id,
        payment_method="pm_card_authenticationRequired",
        return_url="http://testserver/orders/3ds-return/",
    )
    assert pi.status == "requires_action" and pi.next_action.type == "redirect_to_url"
    url = pi.next_action.redirect_to_url.url.replace("http://testserver", "")
    assert client.get(url).status_code == 200
    done = client.post(url, {"outcome": "approve"})
    assert done.status_code == 302
    assert done["Location"].startswith(
        "http://testserver/orders/3ds-return/?payment_intent=" + pi.id
    )
    assert "redirect_status=succeeded" in done["Location"]
    pi = sdk.v1.payment_intents.retrieve(pi.id)
    assert pi.status == "succeeded"


def test_validation_errors(sdk, seller):
    with pytest.raises(stripe.InvalidRequestError) as caught:
        sdk.v1.payment_intents.create({"amount": 10, "currency": "eur"})
    assert caught.value.code == "amount_too_small"
    with pytest.raises(stripe.InvalidRequestError) as caught:
        sdk.v1.payment_intents.create(
            {"amount": 1000, "currency": "eur", "application_fee_amount": 10}
        )
    assert caught.value.param == "application_fee_amount"
    with pytest.raises(stripe.InvalidRequestError) as caught:
        destination_intent(sdk, seller.id, amount=1000, fee=1001)
    assert caught.value.param == "application_fee_amount"
    with pytest.raises(stripe.InvalidRequestError) as caught:
        sdk.v1.payment_intents.create({"amount": 1000, "currency": "eur", "paymentmethod": "x"})
    assert caught.value.param == "paymentmethod"
    with pytest.raises(stripe.InvalidRequestError) as caught:
        sdk.v1.payment_intents.retrieve("pi_missing")
    assert caught.value.http_status == 404


def test_list_intents(sdk, seller):
    ids = [destination_intent(sdk, seller.id).id for _ in range(3)]
    page = sdk.v1.payment_intents.list({"limit": 2})
    check_list(as_json(page))
    assert [p.id for p in page.data] == ids[::-1][:2] and page.has_more


def test_direct_charge_on_the_connected_account(sdk, seller):
    """With Stripe-Account: the charge is the seller's; Stripe's fee and the application fee
    come out of it, the platform gets the application fee."""
    on_seller = {"stripe_account": seller.id}
    pi = sdk.v1.payment_intents.create(
        {
            "amount": 2000,
            "currency": "eur",
            "payment_method": "pm_card_visa",
            "confirm": True,
            "application_fee_amount": 100,
        },
        options=on_seller,
    )
    assert pi.status == "succeeded"
    charge = sdk.v1.charges.retrieve(
        pi.latest_charge, {"expand": ["balance_transaction"]}, options=on_seller
    )
    txn = charge.balance_transaction
    assert (txn.amount, txn.fee, txn.net) == (2000, 88 + 100, 1812)
    assert sorted(d.type for d in txn.fee_details) == ["application_fee", "stripe_fee"]
    assert balance(sdk, seller.id) == (0, 1812) and balance(sdk) == (0, 100)
    fee = sdk.v1.application_fees.retrieve(charge.application_fee)
    assert fee.account == seller.id and fee.amount == 100
    with pytest.raises(stripe.InvalidRequestError):  # not the platform's PaymentIntent
        sdk.v1.payment_intents.retrieve(pi.id)
    refund = sdk.v1.refunds.create(
        {"charge": charge.id, "amount": 1000, "refund_application_fee": True}, options=on_seller
    )
    assert refund.amount == 1000
    assert sum(balance(sdk, seller.id)) == 1812 - 1000 + 50
    assert sum(balance(sdk)) == 100 - 50
