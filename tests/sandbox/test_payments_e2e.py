"""THE end-to-end test of the Stripe sandbox issue, with the SDK, the sandbox's hosted pages
and signed webhooks only: onboarding -> checkout with a destination and an application fee ->
balances -> clock -> payout -> partial refund reversing the transfer and refunding the fee."""

from __future__ import annotations

from sandbox import testing
from sandbox.fidelity import check_object
from tests.sandbox.payhelpers import as_json, balance, page_path, pay, session_params
from tests.sandbox.test_accounts import create_express, onboarding_link, open_link, submit

AMOUNT = 5000  # €50.00
FEE = 500  # application fee €5.00
PROCESSING = 175  # Stripe's 2.9% + 30: 145 + 30


def received(receiver, name, event_type):
    return [e for e in receiver.received.get(name, []) if e.type == event_type]


def test_marketplace_money_flow_end_to_end(sdk, client, hook, receiver, settings):
    settings.SANDBOX_WEBHOOK_DELIVERY = "manual"
    hook("platform")
    hook("connect", connect=True)

    # 1. Express account, account link, onboarding on the sandbox page
    account = create_express(sdk)
    link = onboarding_link(sdk, account.id)
    page = open_link(client, link)
    assert submit(client, link, page).status_code == 302
    testing.deliver_pending()
    [updated] = received(receiver, "connect", "account.updated")  # signature verified
    assert updated.account == account.id and updated.data.object.charges_enabled
    assert updated.data.object.capabilities.transfers == "active"

    # 2. Checkout Session with a destination and an application fee, paid with 4242
    session = sdk.v1.checkout.sessions.create(
        session_params(account.id, amount=AMOUNT, fee=FEE),
        options={"idempotency_key": "order-1-checkout"},
    )
    assert client.get(page_path(session)).status_code == 200
    response = pay(client, session)
    assert response["Location"] == f"http://testserver/orders/done/?session_id={session.id}"
    testing.deliver_pending()
    [completed] = received(receiver, "platform", "checkout.session.completed")
    assert completed.data.object.id == session.id
    assert completed.data.object.payment_status == "paid"
    assert completed.data.object.client_reference_id == "order-42"
    check_object(as_json(completed))

    # 3. Balances: connected account amount - fee; platform fee - processing fee (pending)
    assert balance(sdk, account.id) == (0, AMOUNT - FEE)
    assert balance(sdk) == (0, FEE - PROCESSING)
    session = sdk.v1.checkout.sessions.retrieve(
        session.id, {"expand": ["payment_intent.latest_charge"]}
    )
    charge = session.payment_intent.latest_charge
    platform_txns = {t.type: t for t in sdk.v1.balance_transactions.list({"limit": 100}).data}
    assert (
        platform_txns["charge"].fee == PROCESSING
        and platform_txns["charge"].net == AMOUNT - PROCESSING
    )
    assert platform_txns["transfer"].amount == -AMOUNT
    assert platform_txns["application_fee"].amount == FEE
    assert {t.available_on for t in platform_txns.values()} == {
        platform_txns["charge"].available_on
    }

    # 4. Clock: funds available, then paid out automatically
    testing.advance(days=2)
    assert balance(sdk) == (FEE - PROCESSING, 0)
    [payout] = sdk.v1.payouts.list(options={"stripe_account": account.id}).data
    assert payout.amount == AMOUNT - FEE and payout.automatic
    testing.advance(days=1)
    payout = sdk.v1.payouts.retrieve(payout.id, options={"stripe_account": account.id})
    assert payout.status == "paid"
    assert balance(sdk, account.id) == (0, 0)
    testing.deliver_pending()
    assert received(receiver, "connect", "payout.paid")[0].account == account.id

    # 5. Partial refund of €20.00 reversing the transfer and refunding the fee pro rata
    refund = sdk.v1.refunds.create(
        {
            "payment_intent": session.payment_intent.id,
            "amount": 2000,
            "reverse_transfer": True,
            "refund_application_fee": True,
        },
        options={"idempotency_key": "order-1-refund-1"},
    )
    check_object(as_json(refund))
    charge = sdk.v1.charges.retrieve(charge.id, {"expand": ["transfer", "application_fee"]})
    assert charge.amount_refunded == 2000 and not charge.refunded
    assert charge.transfer.amount_reversed == 2000  # 5000 * 2000 / 5000
    assert charge.application_fee.amount_refunded == 200  # 500 * 2000 / 5000
    reversal = sdk.v1.transfers.reversals.retrieve(charge.transfer.id, refund.transfer_reversal)
    assert reversal.amount == 2000 and reversal.source_refund == refund.id
    # connected: paid out everything, then -2000 reversal + 200 fee refund
    assert sum(balance(sdk, account.id)) == -2000 + 200
    # platform: (FEE - PROCESSING) - 2000 refund + 2000 reversal - 200 fee refund
    assert sum(balance(sdk)) == FEE - PROCESSING - 200
    testing.deliver_pending()
    types = {e.type for e in receiver.received["platform"]}
    assert {
        "refund.created",
        "charge.refunded",
        "transfer.reversed",
        "application_fee.refunded",
    } <= types
    assert not receiver.rejected
    # Every object the flow stored, and every event's object, has every field the SDK declares.
    from sandbox.models import SandboxObject

    kinds = set()
    for row in SandboxObject.objects.exclude(
        object__in=["account_link_token", "login_link_token", "platform_account"]
    ):
        kinds.add(row.object)
        check_object(row.data)
    assert {
        "account", "application_fee", "balance_transaction", "charge", "checkout.session",
        "event", "fee_refund", "payment_intent", "payment_method", "payout", "refund",
        "transfer", "transfer_reversal",
    } <= kinds  # fmt: skip
