"""Checkout Sessions and the hosted checkout page, driven with the SDK and the Django test
client (no project models)."""

from __future__ import annotations

import pytest
import stripe

from sandbox import testing
from sandbox.fidelity import check_list, check_object
from tests.sandbox.payhelpers import (
    as_json,
    page_error,
    page_path,
    pay,
    session_params,
)


def test_create_retrieve_session_shape(sdk, seller):
    session = sdk.v1.checkout.sessions.create(session_params(seller.id, quantity=2))
    check_object(as_json(session))
    assert session.id.startswith("cs_test_")
    assert session.status == "open" and session.payment_status == "unpaid"
    assert session.amount_total == 4000 and session.currency == "eur"
    assert session.payment_intent is None
    assert session.url.endswith(f"/sandbox/checkout/{session.id}/")
    assert session.expires_at - session.created == 24 * 3600
    assert session.client_reference_id == "order-42" and session.metadata["order"] == "42"
    fetched = sdk.v1.checkout.sessions.retrieve(session.id, {"expand": ["line_items"]})
    check_object(as_json(fetched))
    [item] = fetched.line_items.data
    assert (item.quantity, item.amount_total, item.description) == (2, 4000, "Blue mug")
    items = sdk.v1.checkout.sessions.line_items.list(session.id)
    check_list(as_json(items))
    assert [i.id for i in items.data] == [item.id]


def test_pay_with_4242_completes_and_moves_money(
    sdk, web, seller, hook, receiver, django_capture_on_commit_callbacks
):
    hook("platform")
    session = sdk.v1.checkout.sessions.create(session_params(seller.id))
    page = web.get(page_path(session))
    assert page.status_code == 200 and b"SANDBOX" in page.content and b"Blue mug" in page.content
    with django_capture_on_commit_callbacks(execute=True):
        response = pay(web, session)
    assert response.status_code == 302
    assert response["Location"] == f"http://testserver/orders/done/?session_id={session.id}"

    types = [e.type for e in receiver.received["platform"]]
    for expected in (
        "payment_intent.created",
        "charge.succeeded",
        "payment_intent.succeeded",
        "transfer.created",
        "application_fee.created",
        "checkout.session.completed",
    ):
        assert expected in types
    completed = next(
        e for e in receiver.received["platform"] if e.type == "checkout.session.completed"
    )
    assert completed.data.object.payment_status == "paid"
    check_object(as_json(completed))

    session = sdk.v1.checkout.sessions.retrieve(
        session.id, {"expand": ["payment_intent", "payment_intent.latest_charge"]}
    )
    check_object(as_json(session))
    assert session.status == "complete" and session.payment_status == "paid"
    assert session.customer_details.email == "buyer@example.com"
    pi = session.payment_intent
    assert pi.status == "succeeded" and pi.amount_received == 2000
    assert pi.application_fee_amount == 200
    assert pi.transfer_data.destination == seller.id
    charge = pi.latest_charge
    assert charge.status == "succeeded" and charge.paid and charge.captured
    assert charge.payment_method_details.card.last4 == "4242"

    charge = sdk.v1.charges.retrieve(
        charge.id, {"expand": ["balance_transaction", "transfer", "application_fee"]}
    )
    check_object(as_json(charge))
    txn = charge.balance_transaction
    assert (txn.type, txn.amount, txn.fee, txn.net) == ("charge", 2000, 88, 1912)  # 2.9% + 30
    assert txn.status == "pending" and txn.fee_details[0].type == "stripe_fee"
    transfer = charge.transfer
    assert (transfer.amount, transfer.destination) == (2000, seller.id)
    assert transfer.source_transaction == charge.id
    fee = charge.application_fee
    assert (fee.amount, fee.account, fee.charge) == (200, seller.id, charge.id)

    platform = sdk.v1.balance.retrieve()
    check_object(as_json(platform))
    assert platform.pending[0].amount == 200 - 88
    connected = sdk.v1.balance.retrieve(options={"stripe_account": seller.id})
    assert connected.pending[0].amount == 1800 and connected.available[0].amount == 0
    payment = sdk.v1.charges.retrieve(
        transfer.destination_payment,
        {"expand": ["balance_transaction"]},
        options={"stripe_account": seller.id},
    )
    check_object(as_json(payment))
    assert (payment.balance_transaction.type, payment.balance_transaction.net) == ("payment", 1800)

    testing.advance(days=3)  # available, then paid out by the daily automatic payout
    connected = sdk.v1.balance.retrieve(options={"stripe_account": seller.id})
    assert connected.available[0].amount == 0 and connected.pending[0].amount == 0
    [payout] = sdk.v1.payouts.list(options={"stripe_account": seller.id}).data
    assert payout.amount == 1800
    assert sdk.v1.balance_transactions.retrieve(txn.id).status == "available"


def test_expire_and_automatic_expiry(
    sdk, seller, hook, receiver, django_capture_on_commit_callbacks
):
    hook("platform")
    session = sdk.v1.checkout.sessions.create(session_params(seller.id))
    with django_capture_on_commit_callbacks(execute=True):
        expired = sdk.v1.checkout.sessions.expire(session.id)
    assert expired.status == "expired" and expired.url is None
    assert [e.type for e in receiver.received["platform"]] == ["checkout.session.expired"]
    with pytest.raises(stripe.InvalidRequestError):
        sdk.v1.checkout.sessions.expire(session.id)

    other = sdk.v1.checkout.sessions.create(
        session_params(seller.id, expires_at=testing.now() + 3600)
    )
    testing.advance(hours=1, seconds=1)
    assert sdk.v1.checkout.sessions.retrieve(other.id).status == "expired"
    assert len(testing.events(event_type="checkout.session.expired")) == 2


@pytest.mark.parametrize("offset", [60, 25 * 3600])
def test_expires_at_out_of_range(sdk, seller, offset):
    with pytest.raises(stripe.InvalidRequestError) as caught:
        sdk.v1.checkout.sessions.create(
            session_params(seller.id, expires_at=testing.now() + offset)
        )
    assert caught.value.param == "expires_at"


def test_destination_must_be_transfer_capable(sdk):
    from tests.sandbox.test_accounts import create_express

    pending = create_express(sdk)  # not onboarded: transfers inactive
    with pytest.raises(stripe.InvalidRequestError) as caught:
        sdk.v1.checkout.sessions.create(session_params(pending.id))
    assert caught.value.param == "payment_intent_data[transfer_data][destination]"
    with pytest.raises(stripe.InvalidRequestError) as caught:
        sdk.v1.checkout.sessions.create(session_params("acct_doesnotexist"))
    assert "No such destination" in str(caught.value)


def test_fee_above_amount_rejected(sdk, seller):
    with pytest.raises(stripe.InvalidRequestError) as caught:
        sdk.v1.checkout.sessions.create(session_params(seller.id, amount=1000, fee=1001))
    assert caught.value.param == "payment_intent_data[application_fee_amount]"


@pytest.mark.parametrize(
    "number, code, message",
    [
        ("4000000000000002", "generic_decline", "Your card was declined."),
        ("4000000000009995", "insufficient_funds", "Your card has insufficient funds."),
    ],
)
def test_declined_card_shows_error_and_session_stays_open(sdk, web, seller, number, code, message):
    session = sdk.v1.checkout.sessions.create(session_params(seller.id))
    response = pay(web, session, number)
    assert response.status_code == 402
    assert page_error(response) == message
    session = sdk.v1.checkout.sessions.retrieve(
        session.id, {"expand": ["payment_intent.latest_charge"]}
    )
    assert session.status == "open"
    pi = session.payment_intent
    assert pi.status == "requires_payment_method"
    assert pi.last_payment_error.decline_code == code
    assert pi.latest_charge.status == "failed" and pi.latest_charge.outcome.reason == code
    check_object(as_json(session))
    assert [e["type"] for e in testing.events(event_type="charge.failed")] == ["charge.failed"]
    # another card works on the same session and PaymentIntent
    response = pay(web, session)
    assert response.status_code == 302
    done = sdk.v1.checkout.sessions.retrieve(session.id)
    assert done.status == "complete" and done.payment_intent == pi.id


def test_3d_secure_approve_and_fail(sdk, web, seller):
    session = sdk.v1.checkout.sessions.create(session_params(seller.id))
    response = pay(web, session, "4000002500003155")
    assert response.status_code == 302 and "/sandbox/authenticate/pi_" in response["Location"]
    challenge = web.get(response["Location"])
    assert challenge.status_code == 200 and b"3D Secure" in challenge.content
    failed = web.post(response["Location"], {"outcome": "fail"})
    assert failed.status_code == 302 and failed["Location"].endswith(
        f"/sandbox/checkout/{session.id}/"
    )
    page = web.get(failed["Location"])
    # The buyer reads plain words, as on Stripe's hosted page, not the API's message.
    assert "unable to authenticate your payment method" in page_error(page)
    assert "payment_method_data" not in page.content.decode()
    pi = sdk.v1.payment_intents.retrieve(
        sdk.v1.checkout.sessions.retrieve(session.id).payment_intent
    )
    assert pi.status == "requires_payment_method"
    assert pi.last_payment_error.code == "payment_intent_authentication_failure"

    response = pay(web, session, "4000002500003155")
    approved = web.post(response["Location"], {"outcome": "approve"})
    assert approved.status_code == 302
    assert approved["Location"] == f"http://testserver/orders/done/?session_id={session.id}"
    session = sdk.v1.checkout.sessions.retrieve(
        session.id, {"expand": ["payment_intent.latest_charge"]}
    )
    assert session.status == "complete"
    assert (
        session.payment_intent.latest_charge.payment_method_details.card.three_d_secure.result
        == "authenticated"
    )
    check_object(as_json(session))


def test_idempotent_replay_of_session_creation(sdk, seller):
    params = session_params(seller.id)
    first = sdk.v1.checkout.sessions.create(
        params, options={"idempotency_key": "order-42-checkout"}
    )
    again = sdk.v1.checkout.sessions.create(
        params, options={"idempotency_key": "order-42-checkout"}
    )
    assert again.id == first.id
    assert len(testing.requests(path="/v1/checkout/sessions", method="POST")) == 2
    with pytest.raises(stripe.IdempotencyError):
        sdk.v1.checkout.sessions.create(
            session_params(seller.id, amount=999), options={"idempotency_key": "order-42-checkout"}
        )


def test_manual_capture_session_and_double_submit(sdk, web, seller):
    params = session_params(seller.id)
    params["payment_intent_data"]["capture_method"] = "manual"
    session = sdk.v1.checkout.sessions.create(params)
    assert pay(web, session).status_code == 302
    again = pay(web, session)  # double click: no second charge
    assert again.status_code == 302 and again["Location"].endswith(session.id)
    session = sdk.v1.checkout.sessions.retrieve(session.id, {"expand": ["payment_intent"]})
    assert session.status == "complete" and session.payment_status == "unpaid"
    assert session.payment_intent.status == "requires_capture"
    assert len(sdk.v1.charges.list({"payment_intent": session.payment_intent.id}).data) == 1
    captured = sdk.v1.payment_intents.capture(session.payment_intent.id)
    assert captured.status == "succeeded"


def test_balance_available_event_when_funds_release(sdk, seller):
    from tests.sandbox.payhelpers import destination_intent

    sdk.v1.accounts.update(
        seller.id, {"settings": {"payouts": {"schedule": {"interval": "manual"}}}}
    )
    destination_intent(sdk, seller.id)
    testing.advance(days=3)
    events = testing.events(event_type="balance.available")
    by_account = {e.get("account"): e for e in events}
    assert by_account[seller.id]["data"]["object"]["available"][0]["amount"] == 1800
    assert by_account[None]["data"]["object"]["available"][0]["amount"] == 200 - 88
    for event in events:
        check_object(event)


def test_unknown_session_page_is_404(web, db):
    assert web.get("/sandbox/checkout/cs_test_nope/").status_code == 404


def test_expired_session_page_refuses_payment(sdk, web, seller):
    session = sdk.v1.checkout.sessions.create(session_params(seller.id))
    sdk.v1.checkout.sessions.expire(session.id)
    page = web.get(page_path(session))
    assert page.status_code == 200 and b"has expired" in page.content
    response = pay(web, session)
    assert response.status_code == 402 and b"has expired" in response.content
    assert sdk.v1.charges.list().data == []


def test_shipping_address_collection_asks_for_and_returns_the_address(sdk, web, seller):
    params = session_params(
        seller.id, shipping_address_collection={"allowed_countries": ["FR", "DE"]}
    )
    session = sdk.v1.checkout.sessions.create(params)
    assert session.shipping_address_collection.allowed_countries == ["FR", "DE"]
    page = web.get(page_path(session)).content.decode()
    assert "Shipping address" in page and 'name="shipping-line1"' in page
    # Without an address the page asks for it and nothing is charged.
    missing = pay(web, session)
    assert missing.status_code == 400
    assert sdk.v1.checkout.sessions.retrieve(session.id).status == "open"
    card = {"email": "b@example.com", "card_number": "4242424242424242", "expiry": "12 / 34"}
    address = {
        "shipping-name": "Ada Lovelace",
        "shipping-line1": "12 rue des Lilas",
        "shipping-postal_code": "75011",
        "shipping-city": "Paris",
    }
    # A country the session does not allow is refused by the form.
    elsewhere = web.post(
        page_path(session), {**card, "cvc": "123", **address, "shipping-country": "US"}
    )
    assert elsewhere.status_code == 400
    done = web.post(page_path(session), {**card, "cvc": "123", **address, "shipping-country": "FR"})
    assert done.status_code == 302
    completed = sdk.v1.checkout.sessions.retrieve(session.id)
    check_object(as_json(completed))
    details = completed.collected_information.shipping_details
    assert details.name == "Ada Lovelace"
    assert (details.address.line1, details.address.postal_code, details.address.country) == (
        "12 rue des Lilas",
        "75011",
        "FR",
    )


def test_shipping_address_collection_needs_country_codes(sdk, seller):
    with pytest.raises(stripe.InvalidRequestError) as info:
        sdk.v1.checkout.sessions.create(
            session_params(seller.id, shipping_address_collection={"allowed_countries": ["France"]})
        )
    assert info.value.param == "shipping_address_collection[allowed_countries][0]"
