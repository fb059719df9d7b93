"""Money movement of a captured charge (``settle``), as Stripe's destination charges:
- platform: balance transaction ``charge`` (+amount, ``fee`` = Stripe's processing fee);
- with ``transfer_data[destination]``: a transfer ``tr_…`` of the full amount (or
  ``transfer_data[amount]``) to the connected account (platform transaction ``transfer``,
  negative), the connected account's payment ``py_…`` (its transaction ``payment``: +amount,
  ``fee`` = the application fee, net = amount - fee);
- with ``application_fee_amount``: an application fee ``fee_…`` taken back from the connected
  account (platform transaction ``application_fee``, +fee).
So the connected account nets ``amount - application_fee_amount`` and the platform
``application_fee_amount - processing fee``.
"""

from __future__ import annotations

from sandbox import store
from sandbox.events import emit
from sandbox.ids import new_id
from sandbox.models import SandboxObject
from sandbox.resources import balances
from sandbox.resources.payments.common import APPLICATION_ID, JSON


def settle(charge_row: SandboxObject, pi: JSON) -> None:
    """The balance transactions, transfer, destination payment and application fee of a
    captured charge (see the module docstring). Mutates ``charge_row.data``; caller saves."""
    charge = charge_row.data
    account = charge_row.account
    currency = charge["currency"]
    amount = int(charge["amount_captured"])
    when = balances.available_on(immediately=bool(charge_row.private.get("available_immediately")))
    fee = balances.processing_fee(amount)
    app_fee = int(pi.get("application_fee_amount") or 0)
    fee_details = [balances.stripe_fee_detail(fee, currency)]
    if account and app_fee:
        # direct charge on a connected account: Stripe's fee and the application fee
        fee_details.append(_application_fee_detail(app_fee, currency))
    txn = balances.record(
        account=account,
        type="charge",
        amount=amount,
        currency=currency,
        source=charge["id"],
        fee=fee + (app_fee if account else 0),
        fee_details=fee_details,
        description=charge.get("description"),
        available=when,
    )
    charge["balance_transaction"] = txn["id"]
    transfer_data = pi.get("transfer_data") or None
    if transfer_data and not account:
        transfer_amount = min(int(transfer_data.get("amount") or amount), amount)
        if "amount" in transfer_data and transfer_data["amount"] is not None:
            transfer_amount = min(int(transfer_data["amount"]), amount)
        transfer = destination_transfer(
            charge,
            destination=transfer_data["destination"],
            amount=transfer_amount,
            application_fee=app_fee,
            available=when,
            transfer_group=pi.get("transfer_group") or f"group_{pi['id']}",
        )
        charge["transfer"] = transfer["id"]
        charge["transfer_group"] = transfer["transfer_group"]
        if not pi.get("transfer_group"):
            pi["transfer_group"] = transfer["transfer_group"]
        if app_fee:
            fee_obj = application_fee_create(
                charge,
                account=transfer_data["destination"],
                amount=app_fee,
                available=when,
            )
            charge["application_fee"] = fee_obj["id"]
    elif account and app_fee:
        fee_obj = application_fee_create(charge, account=account, amount=app_fee, available=when)
        charge["application_fee"] = fee_obj["id"]


def _application_fee_detail(amount: int, currency: str) -> JSON:
    return {
        "amount": amount,
        "application": APPLICATION_ID,
        "currency": currency,
        "description": "Application fee",
        "type": "application_fee",
    }


def destination_transfer(
    charge: JSON,
    *,
    destination: str,
    amount: int,
    application_fee: int,
    available: int,
    transfer_group: str | None,
) -> JSON:
    """The transfer of a destination charge and the connected account's ``py_…`` payment."""
    from sandbox.resources import transfers

    currency = charge["currency"]
    transfer_id = new_id("tr")
    payment_id = new_id("py")
    txn = balances.record(
        account=destination,
        type="payment",
        amount=amount,
        currency=currency,
        source=payment_id,
        fee=application_fee,
        fee_details=[_application_fee_detail(application_fee, currency)] if application_fee else [],
        available=available,
    )
    payment = transfers.payment_json(amount, currency, transfer_id, transfer_group)
    payment["balance_transaction"] = txn["id"]
    store.create("py", "charge", payment, account=destination, object_id=payment_id)
    return transfers.transfer_create(
        amount=amount,
        currency=currency,
        destination=destination,
        destination_payment=payment_id,
        source_transaction=charge["id"],
        transfer_group=transfer_group,
        transfer_id=transfer_id,
        available=available,
    )


def application_fee_create(charge: JSON, *, account: str, amount: int, available: int) -> JSON:
    """The ``fee_…`` collected from ``account`` on ``charge`` (platform transaction
    ``application_fee``); emits ``application_fee.created``."""
    fee_id = new_id("fee")
    txn = balances.record(
        account="",
        type="application_fee",
        amount=amount,
        currency=charge["currency"],
        source=fee_id,
        available=available,
    )
    fee = store.create(
        "fee",
        "application_fee",
        {
            "account": account,
            "amount": amount,
            "amount_refunded": 0,
            "application": APPLICATION_ID,
            "balance_transaction": txn["id"],
            "charge": charge["id"],
            "currency": charge["currency"],
            "fee_source": {"charge": charge["id"], "payout": None, "type": "charge"},
            "livemode": False,
            "originating_transaction": charge["id"],
            "refunded": False,
            "refunds": store.list_of([], url=f"/v1/application_fees/{fee_id}/refunds"),
        },
        object_id=fee_id,
    )
    emit("application_fee.created", fee)
    return fee
