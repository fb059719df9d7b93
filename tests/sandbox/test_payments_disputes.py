"""Disputes: created on the clock for 4000000000000259, funds withdrawn with the dispute fee,
evidence, submit, win/lose on the control page, close (accept), test evidence, past due."""

from __future__ import annotations

import pytest
import stripe

from sandbox import testing
from sandbox.fidelity import check_list, check_object
from tests.sandbox.payhelpers import (
    as_json,
    balance,
    destination_intent,
    page_path,
    pay,
    session_params,
)


def disputed_charge(sdk, seller):
    pi = destination_intent(sdk, seller.id, payment_method="pm_card_createDispute")
    assert pi.status == "succeeded"
    assert sdk.v1.disputes.list().data == []
    testing.advance(minutes=2)
    [dispute] = sdk.v1.disputes.list().data
    return pi, dispute


def test_dispute_created_and_funds_withdrawn(sdk, seller):
    pi, dispute = disputed_charge(sdk, seller)
    check_object(as_json(dispute))
    assert dispute.id.startswith("du_") and dispute.charge == pi.latest_charge
    assert (dispute.status, dispute.reason, dispute.amount) == (
        "needs_response",
        "fraudulent",
        2000,
    )
    assert dispute.evidence_details.due_by == dispute.created + 7 * 86400
    [txn] = dispute.balance_transactions
    assert (txn.type, txn.amount, txn.fee, txn.net) == ("adjustment", -2000, 1500, -3500)
    assert sum(balance(sdk)) == (200 - 88) - 3500  # fee kept minus processing, minus dispute
    charge = sdk.v1.charges.retrieve(pi.latest_charge)
    assert charge.disputed is True
    types = [e["type"] for e in testing.events()]
    assert "charge.dispute.created" in types and "charge.dispute.funds_withdrawn" in types
    with pytest.raises(stripe.InvalidRequestError) as caught:
        sdk.v1.refunds.create({"charge": charge.id})
    assert caught.value.code == "charge_disputed"
    check_list(as_json(sdk.v1.disputes.list({"charge": charge.id})))


def test_evidence_then_won_on_the_control_page(sdk, seller, web):
    _, dispute = disputed_charge(sdk, seller)
    staged = sdk.v1.disputes.update(
        dispute.id, {"evidence": {"uncategorized_text": "Delivered, signed."}, "submit": False}
    )
    assert staged.status == "needs_response" and staged.evidence_details.has_evidence
    submitted = sdk.v1.disputes.update(dispute.id, {"metadata": {"case": "1"}})
    check_object(as_json(submitted))
    assert submitted.status == "under_review"
    assert submitted.evidence.uncategorized_text == "Delivered, signed."
    assert submitted.evidence_details.submission_count == 1
    with pytest.raises(stripe.InvalidRequestError):
        sdk.v1.disputes.update(dispute.id, {"evidence": {"product_description": "x"}})
    low = sum(balance(sdk))
    page = web.get("/sandbox/")
    assert dispute.id.encode() in page.content
    response = web.post("/sandbox/action/dispute_win/", {"dispute": dispute.id})
    assert response.status_code == 302
    won = sdk.v1.disputes.retrieve(dispute.id)
    assert won.status == "won" and len(won.balance_transactions) == 2
    assert sum(balance(sdk)) == low + 2000  # the 15.00 fee is not returned
    types = [e["type"] for e in testing.events()]
    assert "charge.dispute.funds_reinstated" in types and "charge.dispute.closed" in types


def test_close_accepts_the_loss(sdk, seller):
    _, dispute = disputed_charge(sdk, seller)
    low = sum(balance(sdk))
    closed = sdk.v1.disputes.close(dispute.id)
    assert closed.status == "lost"
    assert sum(balance(sdk)) == low
    with pytest.raises(stripe.InvalidRequestError):
        sdk.v1.disputes.close(dispute.id)
    [event] = testing.events(event_type="charge.dispute.closed")
    assert event["data"]["object"]["status"] == "lost"


@pytest.mark.parametrize("text, status", [("winning_evidence", "won"), ("losing_evidence", "lost")])
def test_stripe_test_evidence_decides(sdk, seller, text, status):
    _, dispute = disputed_charge(sdk, seller)
    sdk.v1.disputes.update(dispute.id, {"evidence": {"uncategorized_text": text}})
    testing.run_due()
    assert sdk.v1.disputes.retrieve(dispute.id).status == status


def test_unanswered_dispute_is_lost_when_due(sdk, seller):
    _, dispute = disputed_charge(sdk, seller)
    testing.advance(days=8)
    lost = sdk.v1.disputes.retrieve(dispute.id)
    assert lost.status == "lost" and lost.evidence_details.past_due


def test_checkout_with_the_dispute_card(sdk, seller, web):
    session = sdk.v1.checkout.sessions.create(session_params(seller.id))
    assert web.get(page_path(session)).status_code == 200
    assert pay(web, session, "4000000000000259").status_code == 302
    testing.advance(minutes=2)
    [dispute] = sdk.v1.disputes.list().data
    assert dispute.payment_intent == sdk.v1.checkout.sessions.retrieve(session.id).payment_intent
