"""Refunds, transfer reversals and application fee refunds: Stripe's pro rata arithmetic with
the sandbox's rounding rule (half up; a refund of all that remains takes all that remains)."""

from __future__ import annotations

import pytest
import stripe

from sandbox import testing
from sandbox.fidelity import check_list, check_object
from sandbox.resources.transfers import pro_rata
from tests.sandbox.payhelpers import as_json, balance, destination_intent


@pytest.mark.parametrize(
    "total, amount, base, expected",
    [
        (333, 500, 1000, 167),  # 166.5 -> 167 (half up)
        (333, 499, 1000, 166),  # 166.167 -> 166
        (200, 1, 2000, 0),  # 0.1 -> 0
        (200, 5, 2000, 1),  # 0.5 -> 1
        (667, 250, 1000, 167),  # 166.75 -> 167
        (1000, 1000, 1000, 1000),
    ],
)
def test_rounding_rule(total, amount, base, expected):
    assert pro_rata(total, amount, base) == expected


def test_full_refund_reverses_everything(sdk, seller):
    pi = destination_intent(sdk, seller.id)
    refund = sdk.v1.refunds.create(
        {
            "payment_intent": pi.id,
            "reverse_transfer": True,
            "refund_application_fee": True,
            "reason": "requested_by_customer",
            "metadata": {"order": "42"},
        }
    )
    check_object(as_json(refund))
    assert refund.status == "succeeded" and refund.amount == 2000
    assert refund.transfer_reversal.startswith("trr_")
    charge = sdk.v1.charges.retrieve(pi.latest_charge, {"expand": ["transfer", "application_fee"]})
    check_object(as_json(charge))
    assert charge.refunded and charge.amount_refunded == 2000
    assert charge.transfer.reversed and charge.transfer.amount_reversed == 2000
    assert charge.application_fee.refunded and charge.application_fee.amount_refunded == 200
    # platform: +2000 - 88 fee - 2000 transfer + 200 fee | -2000 refund + 2000 reversal - 200
    assert sum(balance(sdk)) == -88
    assert sum(balance(sdk, seller.id)) == 0
    types = [e["type"] for e in testing.events()]
    for expected in (
        "refund.created",
        "charge.refunded",
        "transfer.reversed",
        "application_fee.refunded",
    ):
        assert expected in types
    with pytest.raises(stripe.InvalidRequestError) as caught:
        sdk.v1.refunds.create({"charge": charge.id, "amount": 1})
    assert caught.value.code == "charge_already_refunded"


def test_partial_refunds_pro_rata_add_up(sdk, seller):
    pi = destination_intent(sdk, seller.id, amount=1000, fee=333)
    charge_id = pi.latest_charge
    first = sdk.v1.refunds.create(
        {
            "charge": charge_id,
            "amount": 500,
            "reverse_transfer": True,
            "refund_application_fee": True,
        }
    )
    reversal = sdk.v1.transfers.reversals.retrieve(
        sdk.v1.charges.retrieve(charge_id).transfer, first.transfer_reversal
    )
    check_object(as_json(reversal))
    assert reversal.amount == 500 and reversal.source_refund == first.id
    fee = sdk.v1.application_fees.retrieve(sdk.v1.charges.retrieve(charge_id).application_fee)
    assert fee.amount_refunded == 167  # 333 * 500 / 1000 = 166.5 -> 167
    # the connected account: +1000 - 333 fee, -500 reversal, +167 fee refund
    assert sum(balance(sdk, seller.id)) == 1000 - 333 - 500 + 167
    second = sdk.v1.refunds.create(
        {"charge": charge_id, "reverse_transfer": True, "refund_application_fee": True}
    )
    assert second.amount == 500
    fee = sdk.v1.application_fees.retrieve(fee.id, {"expand": ["refunds"]})
    check_object(as_json(fee))
    assert fee.amount_refunded == 333 and fee.refunded  # the rest: 166
    assert sorted(r.amount for r in fee.refunds.data) == [166, 167]
    assert sum(balance(sdk, seller.id)) == 0
    refunds = sdk.v1.refunds.list({"charge": charge_id})
    check_list(as_json(refunds))
    assert [r.id for r in refunds.data] == [second.id, first.id]


def test_transfer_amount_pro_rata_with_rounding(sdk, seller):
    pi = sdk.v1.payment_intents.create(
        {
            "amount": 1000,
            "currency": "eur",
            "payment_method": "pm_card_visa",
            "confirm": True,
            "transfer_data": {"destination": seller.id, "amount": 667},
        }
    )
    charge = sdk.v1.charges.retrieve(pi.latest_charge)
    amounts = []
    for amount in (250, 1):
        refund = sdk.v1.refunds.create(
            {"charge": charge.id, "amount": amount, "reverse_transfer": True}
        )
        amounts.append(
            sdk.v1.transfers.reversals.retrieve(charge.transfer, refund.transfer_reversal).amount
        )
    assert amounts == [167, 1]  # 166.75 -> 167, 0.667 -> 1
    last = sdk.v1.refunds.create({"charge": charge.id, "reverse_transfer": True})
    assert last.amount == 749
    transfer = sdk.v1.transfers.retrieve(charge.transfer)
    assert transfer.amount_reversed == 667 and transfer.reversed
    assert [r.amount for r in sdk.v1.transfers.reversals.list(transfer.id).data] == [499, 1, 167]


def test_refund_above_refundable_is_rejected(sdk, seller):
    pi = destination_intent(sdk, seller.id)
    sdk.v1.refunds.create({"payment_intent": pi.id, "amount": 1500})
    with pytest.raises(stripe.InvalidRequestError) as caught:
        sdk.v1.refunds.create({"payment_intent": pi.id, "amount": 501})
    assert caught.value.param == "amount"
    assert str(caught.value.user_message) == (
        "Refund amount (€5.01) is greater than unrefunded amount on charge (€5.00)"
    )
    charge = sdk.v1.charges.retrieve(pi.latest_charge)
    assert charge.amount_refunded == 1500 and not charge.refunded


def test_refund_without_reverse_transfer_comes_from_the_platform(sdk, seller):
    pi = destination_intent(sdk, seller.id)
    sdk.v1.refunds.create({"payment_intent": pi.id, "amount": 700})
    assert sum(balance(sdk)) == 200 - 88 - 700
    assert sum(balance(sdk, seller.id)) == 1800
    refund_txn = sdk.v1.balance_transactions.list({"type": "refund"}).data[0]
    assert (refund_txn.amount, refund_txn.status) == (-700, "available")


def test_manual_transfer_and_reversal_with_fee_refund(sdk, seller):
    with pytest.raises(stripe.InvalidRequestError) as caught:
        sdk.v1.transfers.create({"amount": 500, "currency": "eur", "destination": seller.id})
    assert caught.value.code == "balance_insufficient"
    destination = destination_intent(sdk, seller.id, amount=5000, fee=None)
    with pytest.raises(stripe.InvalidRequestError) as caught:  # all of it already transferred
        sdk.v1.transfers.create(
            {
                "amount": 1,
                "currency": "eur",
                "destination": seller.id,
                "source_transaction": destination.latest_charge,
            }
        )
    assert caught.value.code == "balance_insufficient"
    pi = sdk.v1.payment_intents.create(
        {"amount": 5000, "currency": "eur", "payment_method": "pm_card_visa", "confirm": True}
    )
    charge = sdk.v1.charges.retrieve(pi.latest_charge)
    # separate charges and transfers: funds taken from the charge
    transfer = sdk.v1.transfers.create(
        {
            "amount": 500,
            "currency": "eur",
            "destination": seller.id,
            "source_transaction": charge.id,
            "transfer_group": "order-9",
            "metadata": {"k": "v"},
        }
    )
    check_object(as_json(transfer))
    assert transfer.destination_payment.startswith("py_") and transfer.transfer_group == "order-9"
    reversal = sdk.v1.transfers.reversals.create(transfer.id, {"amount": 200})
    check_object(as_json(reversal))
    transfer = sdk.v1.transfers.retrieve(transfer.id)
    assert transfer.amount_reversed == 200 and not transfer.reversed
    assert [r.id for r in transfer.reversals.data] == [reversal.id]
    with pytest.raises(stripe.InvalidRequestError):
        sdk.v1.transfers.reversals.create(transfer.id, {"amount": 301})
    listed = sdk.v1.transfers.list({"destination": seller.id})
    check_list(as_json(listed))
    assert len(listed.data) == 2
    fees = sdk.v1.application_fees.list()
    assert fees.data == []


def test_application_fee_refund_api(sdk, seller):
    pi = destination_intent(sdk, seller.id)
    fee_id = sdk.v1.charges.retrieve(pi.latest_charge).application_fee
    refund = sdk.v1.application_fees.refunds.create(fee_id, {"amount": 50})
    check_object(as_json(refund))
    assert refund.fee == fee_id and refund.amount == 50
    with pytest.raises(stripe.InvalidRequestError):
        sdk.v1.application_fees.refunds.create(fee_id, {"amount": 151})
    listed = sdk.v1.application_fees.refunds.list(fee_id)
    check_list(as_json(listed))
    assert [r.id for r in listed.data] == [refund.id]
    assert sum(balance(sdk, seller.id)) == 1800 + 50
