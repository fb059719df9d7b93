"""SEPA Direct Debit, the sandbox's delayed payment method: Checkout completes ``unpaid``, the
PaymentIntent is ``processing`` and the sandbox clock later settles the debit (success: the same
money movement as a card; failure: nothing moves). SDK and Django test client only."""

from __future__ import annotations

import pytest
import stripe

from sandbox import testing
from sandbox.fidelity import check_object
from tests.sandbox.payhelpers import (
    as_json,
    balance,
    page_error,
    page_path,
    pay,
    session_params,
)

SUCCEEDS = "DE89370400440532013000"
FAILS = "DE62370400440532013001"


def pay_sepa(web, session, iban: str = SUCCEEDS, *, name: str = "Bo Buyer"):
    return web.post(
        page_path(session),
        {"method": "sepa_debit", "email": "buyer@example.com", "name": name, "iban": iban},
    )


def sepa_session(sdk, seller, **extra):
    return sdk.v1.checkout.sessions.create(
        session_params(seller.id, allowed_payment_method_types=["card", "sepa_debit"], **extra)
    )


def types_of(events) -> list[str]:
    return [e.type for e in events]


def payment_events(receiver) -> list:
    """The platform's events about the payment (the catalogue's ``product.created`` of the
    session's ``price_data`` is delivered whenever its transaction's deliveries run)."""
    return [e for e in receiver.received["platform"] if not e.type.startswith("product.")]


def test_payment_method_types_validated(sdk, seller, settings):
    default = sdk.v1.checkout.sessions.create(session_params(seller.id))
    assert default.payment_method_types == ["card"]
    both = sepa_session(sdk, seller)
    check_object(as_json(both))
    assert both.payment_method_types == ["card", "sepa_debit"]
    allowed = sdk.v1.checkout.sessions.create(
        session_params(seller.id, allowed_payment_method_types=["sepa_debit"])
    )
    assert allowed.payment_method_types == ["sepa_debit"]
    with pytest.raises(stripe.InvalidRequestError) as unsupported:
        sdk.v1.checkout.sessions.create(
            session_params(seller.id, payment_method_types=["card", "ideal"]),
            {"stripe_version": "2025-03-31.basil"},  # before the parameter was removed
        )
    assert unsupported.value.param == "payment_method_types[1]"
    assert "ideal" in unsupported.value.user_message
    older = sdk.v1.checkout.sessions.create(
        session_params(seller.id, payment_method_types=["card", "sepa_debit"]),
        {"stripe_version": "2025-03-31.basil"},
    )
    assert older.payment_method_types == ["card", "sepa_debit"]
    with pytest.raises(stripe.InvalidRequestError) as removed:
        sdk.v1.checkout.sessions.create(session_params(seller.id, payment_method_types=["card"]))
    assert removed.value.code == "payment_method_types_no_longer_supported"
    with pytest.raises(stripe.InvalidRequestError) as wrong_currency:
        sepa_session(sdk, seller, currency="usd")
    assert "sepa_debit" in str(wrong_currency.value.user_message)
    # Without a list, the account's default (the Dashboard setting) decides, per currency.
    settings.SANDBOX_PAYMENT_METHOD_TYPES = ["card", "sepa_debit"]
    eur = sdk.v1.checkout.sessions.create(session_params(seller.id))
    usd = sdk.v1.checkout.sessions.create(session_params(seller.id, currency="usd"))
    assert eur.payment_method_types == ["card", "sepa_debit"]
    assert usd.payment_method_types == ["card"]


def test_page_offers_sepa_only_when_allowed(sdk, web, seller):
    card_only = sdk.v1.checkout.sessions.create(session_params(seller.id))
    page = web.get(page_path(card_only))
    assert b'id="pay-card"' in page.content and b'id="pay-sepa"' not in page.content
    refused = pay_sepa(web, card_only)
    assert refused.status_code == 402 and "does not accept `sepa_debit`" in page_error(refused)
    assert sdk.v1.checkout.sessions.retrieve(card_only.id).status == "open"

    session = sepa_session(sdk, seller)
    page = web.get(page_path(session))
    assert b'id="pay-sepa"' in page.content and b"IBAN" in page.content
    assert b"you authorise" in page.content and SUCCEEDS.encode() in page.content
    bad = pay_sepa(web, session, iban="DE89370400440532013999")
    assert bad.status_code == 400 and b"Enter a valid IBAN" in bad.content
    nameless = pay_sepa(web, session, name="")
    assert nameless.status_code == 400
    assert sdk.v1.checkout.sessions.retrieve(session.id).status == "open"
    # the card still works on a session that also allows SEPA
    assert pay(web, session).status_code == 302
    assert sdk.v1.checkout.sessions.retrieve(session.id).payment_status == "paid"


def test_sepa_debit_succeeds_after_the_delay(
    sdk, web, seller, hook, receiver, settings, django_capture_on_commit_callbacks
):
    settings.SANDBOX_ASYNC_PAYMENT_DELAY = 300
    hook("platform")
    session = sepa_session(sdk, seller)
    with django_capture_on_commit_callbacks(execute=True):
        response = pay_sepa(web, session, "DE89 3704 0044 0532 0130 00")
    assert response.status_code == 302
    assert response["Location"] == f"http://testserver/orders/done/?session_id={session.id}"

    events = payment_events(receiver)
    assert types_of(events) == [
        "payment_intent.created",
        "charge.pending",
        "payment_intent.processing",
        "checkout.session.completed",
    ]
    for event in events:
        check_object(as_json(event))
    assert events[0].data.object.payment_method_types == ["card", "sepa_debit"]
    assert events[-1].data.object.payment_status == "unpaid"
    session = sdk.v1.checkout.sessions.retrieve(
        session.id, {"expand": ["payment_intent", "payment_intent.latest_charge"]}
    )
    check_object(as_json(session))
    assert (session.status, session.payment_status) == ("complete", "unpaid")
    pi = session.payment_intent
    assert pi.status == "processing" and pi.amount_received == 0
    assert "sepa_debit" in pi.payment_method_types
    charge = pi.latest_charge
    assert (charge.status, charge.paid, charge.balance_transaction) == ("pending", False, None)
    details = charge.payment_method_details
    assert details.type == "sepa_debit"
    assert (details.sepa_debit.last4, details.sepa_debit.country) == ("3000", "DE")
    assert details.sepa_debit.mandate.startswith("mandate_")
    pm = sdk.v1.payment_methods.retrieve(charge.payment_method)
    check_object(as_json(pm))
    assert (pm.type, pm.sepa_debit.last4, pm.billing_details.name) == (
        "sepa_debit",
        "3000",
        "Bo Buyer",
    )
    # nothing moved yet
    assert balance(sdk) == (0, 0) and balance(sdk, seller.id) == (0, 0)

    with django_capture_on_commit_callbacks(execute=True):
        testing.advance(seconds=280)  # the sandbox clock also runs in real time: leave a margin
    assert sdk.v1.payment_intents.retrieve(pi.id).status == "processing"
    assert len(payment_events(receiver)) == 4

    with django_capture_on_commit_callbacks(execute=True):
        testing.advance(seconds=25)
    later = payment_events(receiver)[4:]
    for event in later:
        check_object(as_json(event))
    later_types = types_of(later)
    order = [
        "charge.succeeded",
        "payment_intent.succeeded",
        "checkout.session.async_payment_succeeded",
    ]
    assert [t for t in later_types if t in order] == order
    assert {"transfer.created", "application_fee.created"} <= set(later_types)
    succeeded = later[later_types.index("checkout.session.async_payment_succeeded")]
    assert succeeded.data.object.payment_status == "paid"

    session = sdk.v1.checkout.sessions.retrieve(session.id)
    assert (session.status, session.payment_status) == ("complete", "paid")
    pi = sdk.v1.payment_intents.retrieve(pi.id)
    check_object(as_json(pi))
    assert pi.status == "succeeded" and pi.amount_received == 2000
    charge = sdk.v1.charges.retrieve(
        charge.id, {"expand": ["balance_transaction", "transfer", "application_fee"]}
    )
    check_object(as_json(charge))
    assert (charge.status, charge.paid, charge.captured) == ("succeeded", True, True)
    txn = charge.balance_transaction
    assert (txn.type, txn.amount, txn.fee, txn.net) == ("charge", 2000, 88, 1912)
    assert (charge.transfer.amount, charge.transfer.destination) == (2000, seller.id)
    assert (charge.application_fee.amount, charge.application_fee.account) == (200, seller.id)
    # the card case's arithmetic: platform keeps fee - processing fee, the seller amount - fee
    assert balance(sdk) == (0, 200 - 88)
    assert balance(sdk, seller.id) == (0, 1800)

    # the job is idempotent: nothing happens twice
    with django_capture_on_commit_callbacks(execute=True):
        testing.advance(minutes=10)
    assert types_of(payment_events(receiver)).count("payment_intent.succeeded") == 1
    assert len(sdk.v1.transfers.list().data) == 1
    assert len(sdk.v1.application_fees.list().data) == 1

    # a settled debit refunds like a card charge
    refund = sdk.v1.refunds.create(
        {"charge": charge.id, "reverse_transfer": True, "refund_application_fee": True}
    )
    check_object(as_json(refund))
    assert (refund.amount, refund.status) == (2000, "succeeded")
    assert sdk.v1.transfers.retrieve(charge.transfer.id).amount_reversed == 2000


def test_sepa_debit_fails_after_the_delay(
    sdk, web, seller, hook, receiver, django_capture_on_commit_callbacks
):
    hook("platform")
    session = sepa_session(sdk, seller)
    with django_capture_on_commit_callbacks(execute=True):
        assert pay_sepa(web, session, FAILS).status_code == 302
    assert types_of(payment_events(receiver))[-1] == "checkout.session.completed"

    with django_capture_on_commit_callbacks(execute=True):
        testing.advance(minutes=3)  # the default delay: 180 s
    later = payment_events(receiver)[4:]
    for event in later:
        check_object(as_json(event))
    assert types_of(later) == [
        "charge.failed",
        "payment_intent.payment_failed",
        "checkout.session.async_payment_failed",
    ]
    assert later[-1].data.object.payment_status == "unpaid"

    session = sdk.v1.checkout.sessions.retrieve(
        session.id, {"expand": ["payment_intent", "payment_intent.latest_charge"]}
    )
    check_object(as_json(session))
    assert (session.status, session.payment_status) == ("complete", "unpaid")
    pi = session.payment_intent
    assert pi.status == "requires_payment_method" and pi.payment_method is None
    assert pi.last_payment_error.code == "insufficient_funds"
    assert pi.last_payment_error.payment_method.type == "sepa_debit"
    charge = pi.latest_charge
    assert (charge.status, charge.paid, charge.failure_code) == (
        "failed",
        False,
        "insufficient_funds",
    )
    assert (charge.balance_transaction, charge.transfer, charge.application_fee) == (None,) * 3
    # no money moved anywhere
    assert balance(sdk) == (0, 0) and balance(sdk, seller.id) == (0, 0)
    assert sdk.v1.transfers.list().data == []
    assert sdk.v1.application_fees.list().data == []
    assert sdk.v1.balance_transactions.list().data == []
