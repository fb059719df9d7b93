"""Payouts of connected accounts: automatic on the sandbox clock (paid, failed with Stripe's
test bank numbers), manual, cancel; balance transactions of a payout."""

from __future__ import annotations

import pytest
import stripe

from sandbox import testing
from sandbox.fidelity import check_list, check_object
from tests.sandbox.payhelpers import as_json, balance, destination_intent, onboarded_account


def test_automatic_payout_is_paid(sdk, web, hook, receiver, django_capture_on_commit_callbacks):
    hook("connect", connect=True)
    seller = onboarded_account(sdk, web)
    destination_intent(sdk, seller.id)
    destination_intent(sdk, seller.id, amount=1000, fee=100)
    assert balance(sdk, seller.id) == (0, 2700)
    testing.advance(days=1)
    assert sdk.v1.payouts.list(options={"stripe_account": seller.id}).data == []
    testing.advance(days=2)
    [payout] = sdk.v1.payouts.list(options={"stripe_account": seller.id}).data
    check_object(as_json(payout))
    assert payout.automatic and payout.amount == 2700 and payout.currency == "eur"
    assert payout.status == "in_transit" and payout.destination.startswith("ba_")
    assert balance(sdk, seller.id) == (0, 0)
    included = sdk.v1.balance_transactions.list(
        {"payout": payout.id, "limit": 10}, options={"stripe_account": seller.id}
    )
    check_list(as_json(included))
    assert sorted(t.type for t in included.data) == ["payment", "payment", "payout"]
    assert sum(t.net for t in included.data) == 0
    with django_capture_on_commit_callbacks(execute=True):
        testing.advance(days=1)
    payout = sdk.v1.payouts.retrieve(payout.id, options={"stripe_account": seller.id})
    assert payout.status == "paid" and payout.reconciliation_status == "completed"
    with django_capture_on_commit_callbacks(execute=True):
        testing.deliver_pending()
    types = [(e.type, e.account) for e in receiver.received.get("connect", [])]
    assert ("payout.created", seller.id) in types and ("payout.paid", seller.id) in types
    testing.advance(days=1)  # nothing left: no new payout
    assert len(sdk.v1.payouts.list(options={"stripe_account": seller.id}).data) == 1


@pytest.mark.parametrize(
    "number, code", [("000111111116", "no_account"), ("000111111113", "account_closed")]
)
def test_payout_to_failing_bank_account_fails_and_returns_funds(sdk, web, number, code):
    seller = onboarded_account(sdk, web, account_number=number)
    destination_intent(sdk, seller.id)
    testing.advance(days=3)
    [payout] = sdk.v1.payouts.list(options={"stripe_account": seller.id}).data
    testing.advance(days=1)
    payout = sdk.v1.payouts.retrieve(payout.id, options={"stripe_account": seller.id})
    check_object(as_json(payout))
    assert payout.status == "failed" and payout.failure_code == code
    assert payout.failure_message and payout.failure_balance_transaction.startswith("txn_")
    assert balance(sdk, seller.id) == (1800, 0)
    assert [e["type"] for e in testing.events(event_type="payout.failed")] == ["payout.failed"]
    testing.advance(days=1)  # the bank account is errored: no retry
    assert len(sdk.v1.payouts.list(options={"stripe_account": seller.id}).data) == 1


def test_manual_payout_and_cancel(sdk, web):
    seller = onboarded_account(sdk, web)
    sdk.v1.accounts.update(
        seller.id, {"settings": {"payouts": {"schedule": {"interval": "manual"}}}}
    )
    destination_intent(sdk, seller.id)
    testing.advance(days=3)
    assert sdk.v1.payouts.list(options={"stripe_account": seller.id}).data == []
    assert balance(sdk, seller.id) == (1800, 0)
    with pytest.raises(stripe.InvalidRequestError) as caught:
        sdk.v1.payouts.create(
            {"amount": 1801, "currency": "eur"}, options={"stripe_account": seller.id}
        )
    assert caught.value.code == "balance_insufficient"
    payout = sdk.v1.payouts.create(
        {"amount": 1000, "currency": "eur", "metadata": {"k": "v"}},
        options={"stripe_account": seller.id},
    )
    check_object(as_json(payout))
    assert payout.status == "pending" and not payout.automatic
    assert balance(sdk, seller.id) == (800, 0)
    canceled = sdk.v1.payouts.cancel(payout.id, options={"stripe_account": seller.id})
    assert canceled.status == "canceled"
    assert balance(sdk, seller.id) == (1800, 0)
    assert testing.events(event_type="payout.canceled")[0]["account"] == seller.id
    with pytest.raises(stripe.InvalidRequestError):
        sdk.v1.payouts.cancel(payout.id, options={"stripe_account": seller.id})
    other = sdk.v1.payouts.create(
        {"amount": 1800, "currency": "eur"}, options={"stripe_account": seller.id}
    )
    testing.advance(days=1)
    assert sdk.v1.payouts.retrieve(other.id, options={"stripe_account": seller.id}).status == "paid"
    with pytest.raises(stripe.InvalidRequestError):  # in another account's scope: not found
        sdk.v1.payouts.retrieve(other.id)


def test_control_action_runs_due_payouts(sdk, web):
    seller = onboarded_account(sdk, web)
    pi = sdk.v1.payment_intents.create(
        {
            "amount": 2000,
            "currency": "eur",
            "payment_method": "pm_card_bypassPending",
            "confirm": True,
            "transfer_data": {"destination": seller.id},
            "application_fee_amount": 200,
        }
    )
    assert pi.status == "succeeded"
    assert balance(sdk, seller.id) == (1800, 0)
    response = web.post("/sandbox/action/run_payouts/")
    assert response.status_code == 302
    [payout] = sdk.v1.payouts.list(options={"stripe_account": seller.id}).data
    assert payout.amount == 1800
    page = web.get("/sandbox/")
    assert page.status_code == 200 and payout.id.encode() in page.content


def test_other_accounts_objects_are_not_found(sdk, web):
    """A sweep over one seller's object ids with another seller's Stripe-Account: all 404."""
    seller = onboarded_account(sdk, web)
    other = onboarded_account(sdk, web)
    pi = destination_intent(sdk, seller.id)
    transfer = sdk.v1.transfers.retrieve(sdk.v1.charges.retrieve(pi.latest_charge).transfer)
    payment = sdk.v1.charges.retrieve(
        transfer.destination_payment, options={"stripe_account": seller.id}
    )
    testing.advance(days=3)
    [payout] = sdk.v1.payouts.list(options={"stripe_account": seller.id}).data
    as_other = {"stripe_account": other.id}
    calls = [
        lambda: sdk.v1.charges.retrieve(payment.id, options=as_other),
        lambda: sdk.v1.charges.retrieve(pi.latest_charge, options=as_other),
        lambda: sdk.v1.payouts.retrieve(payout.id, options=as_other),
        lambda: sdk.v1.balance_transactions.retrieve(payment.balance_transaction, options=as_other),
        lambda: sdk.v1.payment_intents.retrieve(pi.id, options=as_other),
    ]
    for call in calls:
        with pytest.raises(stripe.InvalidRequestError) as caught:
            call()
        assert caught.value.http_status == 404
    assert sdk.v1.balance_transactions.list(options=as_other).data == []
    assert sdk.v1.payouts.list(options=as_other).data == []


def test_express_dashboard_writes_payouts_and_balances_in_one_format(sdk, web):
    """The arrival is a day, not a Unix time; every amount reads €12.34, as on our pages."""
    import re
    from urllib.parse import urlsplit

    from sandbox import display

    seller = onboarded_account(sdk, web)
    destination_intent(sdk, seller.id)
    testing.advance(days=3)
    [payout] = sdk.v1.payouts.list(options={"stripe_account": seller.id}).data
    link = sdk.v1.accounts.login_links.create(seller.id)
    page = web.get(urlsplit(link.url).path).content.decode()
    assert display.date(payout.arrival_date) in page
    assert str(payout.arrival_date) not in page
    assert "€18.00" in page and "€0.00" in page
    assert not re.search(r"\d EUR", page)  # the currency's code only where it names the currency
