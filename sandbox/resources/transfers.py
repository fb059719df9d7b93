"""Transfers (``/v1/transfers``: create, retrieve, update, list; reversals create/list/retrieve)
and application fees (``/v1/application_fees``: retrieve, list; refunds create/list/retrieve).

Balance effects:
- transfer: platform ``transfer`` (-amount); connected account ``payment`` on its ``py_…``
  (+amount); a manual transfer needs that much available on the platform (else Stripe's
  ``balance_insufficient``) unless it names a ``source_transaction``, whose availability it takes.
- reversal ``trr_…``: platform ``transfer_refund`` (+amount); connected ``payment_refund``
  (-amount) on a ``pyr_…`` refund of the destination payment. ``refund_application_fee``
  refunds the source charge's application fee pro rata (see ``pro_rata``).
- application fee refund ``fr_…``: platform ``application_fee_refund`` (-amount); connected
  ``application_fee_refund`` (+amount).
All of these are available at once (they move money that already moved).

Pro rata rule (refunds and reversals): ``part = round_half_up(total * amount / base)``, and a
refund of everything that remains takes everything that remains, so the parts always add up.
"""

from __future__ import annotations

from typing import Any

from stripe.params import (
    ApplicationFeeListParams,
    ApplicationFeeRefundCreateParams,
    ApplicationFeeRefundListParams,
    ApplicationFeeRefundRetrieveParams,
    ApplicationFeeRetrieveParams,
    TransferCreateParams,
    TransferListParams,
    TransferRetrieveParams,
    TransferReversalCreateParams,
    TransferReversalListParams,
    TransferReversalRetrieveParams,
    TransferUpdateParams,
)

from sandbox import clock, store
from sandbox.errors import StripeError, invalid_request, resource_missing
from sandbox.events import emit
from sandbox.ids import new_id
from sandbox.ledger_models import BalanceEntry
from sandbox.models import SandboxObject
from sandbox.resources import balances
from sandbox.router import Request, route

JSON = dict[str, Any]


def pro_rata(total: int, amount: int, base: int, *, remaining: int | None = None) -> int:
    """``total * amount / base`` rounded half up; capped at ``remaining`` (what is left of
    ``total``) and equal to it when ``amount`` takes all that is left of ``base``."""
    if base <= 0 or total <= 0 or amount <= 0:
        return 0
    part = balances.round_half_up_div(total * amount, base)
    if remaining is not None:
        part = min(part, remaining)
    return part


def _platform_only(req: Request) -> None:
    if req.account:
        raise invalid_request(
            "This endpoint can only be called by the platform (without a Stripe-Account header)."
        )


def payment_json(amount: int, currency: str, transfer_id: str, group: str | None) -> JSON:
    from sandbox.resources.payments import APPLICATION_ID

    return {
        "amount": amount,
        "amount_captured": amount,
        "amount_refunded": 0,
        "application": APPLICATION_ID,
        "application_fee": None,
        "application_fee_amount": None,
        "balance_transaction": None,
        "billing_details": store.billing_details(),
        "calculated_statement_descriptor": None,
        "captured": True,
        "currency": currency,
        "customer": None,
        "description": None,
        "disputed": False,
        "failure_balance_transaction": None,
        "failure_code": None,
        "failure_message": None,
        "fraud_details": {},
        "livemode": False,
        "metadata": {},
        "on_behalf_of": None,
        "outcome": None,
        "paid": True,
        "payment_intent": None,
        "payment_method": None,
        "payment_method_details": {"stripe_account": {}, "type": "stripe_account"},
        "receipt_email": None,
        "receipt_number": None,
        "receipt_url": None,
        "refunded": False,
        "review": None,
        "shipping": None,
        "source": None,
        "source_transfer": transfer_id,
        "statement_descriptor": None,
        "statement_descriptor_suffix": None,
        "status": "succeeded",
        "transfer_data": None,
        "transfer_group": group,
    }


def transfer_create(
    *,
    amount: int,
    currency: str,
    destination: str,
    destination_payment: str | None = None,
    source_transaction: str | None = None,
    transfer_group: str | None = None,
    transfer_id: str | None = None,
    available: int | None = None,
    metadata: JSON | None = None,
    description: str | None = None,
) -> JSON:
    """Store a transfer (and, for a manual one, the connected account's ``py_…`` payment);
    emits ``transfer.created``."""
    transfer_id = transfer_id or new_id("tr")
    when = clock.now() if available is None else available
    txn = balances.record(
        account="",
        type="transfer",
        amount=-amount,
        currency=currency,
        source=transfer_id,
        available=when,
    )
    if destination_payment is None:
        destination_payment = new_id("py")
        payment_txn = balances.record(
            account=destination,
            type="payment",
            amount=amount,
            currency=currency,
            source=destination_payment,
            available=when,
        )
        payment = payment_json(amount, currency, transfer_id, transfer_group)
        payment["balance_transaction"] = payment_txn["id"]
        store.create("py", "charge", payment, account=destination, object_id=destination_payment)
    transfer = store.create(
        "tr",
        "transfer",
        {
            "amount": amount,
            "amount_reversed": 0,
            "balance_transaction": txn["id"],
            "currency": currency,
            "description": description,
            "destination": destination,
            "destination_payment": destination_payment,
            "livemode": False,
            "metadata": dict(metadata or {}),
            "reversals": store.list_of([], url=f"/v1/transfers/{transfer_id}/reversals"),
            "reversed": False,
            "source_transaction": source_transaction,
            "source_type": "card",
            "transfer_group": transfer_group,
        },
        object_id=transfer_id,
    )
    emit("transfer.created", transfer)
    return transfer


def _embedded(ids: list[str], url: str) -> JSON:
    rows = {row.id: row.data for row in SandboxObject.objects.filter(pk__in=ids)}
    items = [rows[i] for i in reversed(ids) if i in rows]  # newest first
    return store.list_of(items[:10], url=url, has_more=len(items) > 10)


def reversal_create(
    transfer_id: str,
    *,
    amount: int | None,
    refund_application_fee: bool = False,
    metadata: JSON | None = None,
    source_refund: str | None = None,
    description: str | None = None,
) -> JSON:
    """Reverse ``amount`` (default: all that remains) of a transfer; emits
    ``transfer.reversed`` (and ``application_fee.refunded`` with ``refund_application_fee``)."""
    row = store.get_row(
        transfer_id, object_type="transfer", account="", for_update=True, param="id"
    )
    transfer = row.data
    remaining = int(transfer["amount"]) - int(transfer["amount_reversed"])
    value = remaining if amount is None else int(amount)
    if value <= 0:
        raise invalid_request("Invalid positive integer", param="amount")
    if value > remaining:
        raise invalid_request(
            f"You have attempted to reverse {value} of a transfer with {remaining} remaining "
            "to reverse. Please request a reversal of no more than the remaining amount.",
            param="amount",
        )
    currency = transfer["currency"]
    reversal_id = new_id("trr")
    txn = balances.record(
        account="",
        type="transfer_refund",
        amount=value,
        currency=currency,
        source=reversal_id,
        available=clock.now(),
    )
    payment_refund = None
    if transfer.get("destination_payment"):
        payment_refund = _payment_refund(transfer, value, reversal_id)
    reversal = store.create(
        "trr",
        "transfer_reversal",
        {
            "amount": value,
            "balance_transaction": txn["id"],
            "currency": currency,
            "destination_payment_refund": payment_refund,
            "metadata": dict(metadata or {}),
            "source_refund": source_refund,
            "transfer": transfer_id,
        },
        object_id=reversal_id,
    )
    ids = [*list(row.private.get("reversals") or []), reversal_id]
    row.private["reversals"] = ids
    before = {"amount_reversed": transfer["amount_reversed"], "reversed": transfer["reversed"]}
    transfer["amount_reversed"] = int(transfer["amount_reversed"]) + value
    transfer["reversed"] = transfer["amount_reversed"] >= transfer["amount"]
    transfer["reversals"] = _embedded(ids, f"/v1/transfers/{transfer_id}/reversals")
    saved = store.save(row)
    emit("transfer.reversed", saved, previous_attributes=before)
    if refund_application_fee and transfer.get("source_transaction"):
        charge = SandboxObject.objects.filter(pk=transfer["source_transaction"]).first()
        fee_id = charge.data.get("application_fee") if charge else None
        if fee_id:
            fee_row = store.get_row(fee_id, object_type="application_fee")
            fee_remaining = int(fee_row.data["amount"]) - int(fee_row.data["amount_refunded"])
            part = (
                fee_remaining
                if value == remaining
                else pro_rata(
                    int(fee_row.data["amount"]),
                    value,
                    int(transfer["amount"]),
                    remaining=fee_remaining,
                )
            )
            if part > 0:
                fee_refund_create(fee_id, amount=part)
    return reversal


def _payment_refund(transfer: JSON, amount: int, reversal_id: str) -> str:
    """The connected account's refund of its ``py_…`` payment (``payment_refund`` transaction)."""
    destination = transfer["destination"]
    refund_id = new_id("pyr")
    txn = balances.record(
        account=destination,
        type="payment_refund",
        amount=-amount,
        currency=transfer["currency"],
        source=refund_id,
        available=clock.now(),
    )
    store.create(
        "pyr",
        "refund",
        {
            "amount": amount,
            "balance_transaction": txn["id"],
            "charge": transfer["destination_payment"],
            "currency": transfer["currency"],
            "metadata": {},
            "payment_intent": None,
            "reason": None,
            "receipt_number": None,
            "source_transfer_reversal": reversal_id,
            "status": "succeeded",
            "transfer_reversal": None,
        },
        account=destination,
        object_id=refund_id,
    )
    payment = (
        SandboxObject.objects.select_for_update().filter(pk=transfer["destination_payment"]).first()
    )
    if payment is not None:
        payment.data["amount_refunded"] = int(payment.data["amount_refunded"]) + amount
        payment.data["refunded"] = payment.data["amount_refunded"] >= payment.data["amount"]
        store.save(payment)
    return refund_id


def fee_refund_create(fee_id: str, *, amount: int | None, metadata: JSON | None = None) -> JSON:
    """Refund ``amount`` (default: all that remains) of an application fee to the connected
    account; emits ``application_fee.refunded``."""
    row = store.get_row(
        fee_id,
        object_type="application_fee",
        account="",
        for_update=True,
        name="application fee",
        param="id",
    )
    fee = row.data
    remaining = int(fee["amount"]) - int(fee["amount_refunded"])
    value = remaining if amount is None else int(amount)
    if value <= 0 or value > remaining:
        raise invalid_request(
            f"Refund amount ({value}) is greater than unrefunded amount on fee ({remaining})"
            if value > remaining
            else "Invalid positive integer",
            param="amount",
        )
    refund_id = new_id("fr")
    txn = balances.record(
        account="",
        type="application_fee_refund",
        amount=-value,
        currency=fee["currency"],
        source=refund_id,
        available=clock.now(),
    )
    balances.record(
        account=fee["account"],
        type="application_fee_refund",
        amount=value,
        currency=fee["currency"],
        source=refund_id,
        available=clock.now(),
    )
    refund = store.create(
        "fr",
        "fee_refund",
        {
            "amount": value,
            "balance_transaction": txn["id"],
            "currency": fee["currency"],
            "fee": fee_id,
            "metadata": dict(metadata or {}),
        },
        object_id=refund_id,
    )
    ids = [*list(row.private.get("refunds") or []), refund_id]
    row.private["refunds"] = ids
    before = {"amount_refunded": fee["amount_refunded"], "refunded": fee["refunded"]}
    fee["amount_refunded"] = int(fee["amount_refunded"]) + value
    fee["refunded"] = fee["amount_refunded"] >= fee["amount"]
    fee["refunds"] = _embedded(ids, f"/v1/application_fees/{fee_id}/refunds")
    saved = store.save(row)
    emit("application_fee.refunded", saved, previous_attributes=before)
    return refund


# --- routes: transfers -------------------------------------------------------------------------
@route("POST", "/v1/transfers", params=TransferCreateParams, connect=False)
def create(req: Request) -> JSON:
    from sandbox.resources.payments import check_destination

    p = req.params
    currency = str(p.get("currency") or "").lower()
    amount = int(p["amount"]) if p.get("amount") is not None else None
    if amount is None or amount <= 0:
        raise invalid_request(
            "Missing required param: amount.", param="amount", code="parameter_missing"
        )
    destination = check_destination(p.get("destination"), param="destination")
    available = None
    if p.get("source_transaction"):
        charge = store.get(
            str(p["source_transaction"]),
            object_type="charge",
            account="",
            param="source_transaction",
        )
        if charge["status"] != "succeeded" or not charge.get("balance_transaction"):
            raise invalid_request(
                "The source_transaction must be a succeeded charge.", param="source_transaction"
            )
        if charge["currency"] != currency:
            raise invalid_request(
                "The currency of source_transaction's balance transaction "
                f"({charge['currency']}) must be the same as the transfer currency ({currency})",
                param="currency",
            )
        transferred = sum(
            int(t.data["amount"]) - int(t.data["amount_reversed"])
            for t in store.queryset("transfer").filter(data__source_transaction=charge["id"])
        )
        if amount > int(charge["amount_captured"]) - int(charge["amount_refunded"]) - transferred:
            raise invalid_request(
                "Insufficient funds from the source_transaction to create this transfer.",
                param="amount",
                code="balance_insufficient",
            )
        available = int(
            BalanceEntry.objects.filter(pk=charge["balance_transaction"])
            .values_list("available_on", flat=True)
            .first()
            or clock.now()
        )
    elif balances.available_amount("", currency) < amount:
        raise StripeError(
            "You have insufficient available funds in your Stripe account. Try adding funds "
            "directly to your available balance by creating Charges using the "
            "4000000000000077 test card.",
            code="balance_insufficient",
        )
    metadata = p.get("metadata")
    return transfer_create(
        amount=amount,
        currency=currency,
        destination=destination,
        source_transaction=p.get("source_transaction"),
        transfer_group=p.get("transfer_group"),
        available=available,
        metadata=metadata if isinstance(metadata, dict) else None,
        description=p.get("description"),
    )


@route("GET", "/v1/transfers/{id}", params=TransferRetrieveParams, connect=False)
def retrieve(req: Request) -> JSON:
    return store.get(req.args["id"], object_type="transfer", account="")


@route("POST", "/v1/transfers/{id}", params=TransferUpdateParams, connect=False)
def update(req: Request) -> JSON:
    changes: JSON = {k: req.params[k] for k in ("description", "metadata") if k in req.params}
    transfer, previous = store.update(req.args["id"], changes, object_type="transfer", account="")
    if previous:
        emit("transfer.updated", transfer, previous_attributes=previous)
    return transfer


@route("GET", "/v1/transfers", params=TransferListParams, connect=False)
def list_(req: Request) -> JSON:
    qs = store.queryset("transfer", account="")
    for key in ("destination", "transfer_group"):
        if req.params.get(key):
            qs = qs.filter(**{f"data__{key}": req.params[key]})
    return store.list_response(qs, req.params, url="/v1/transfers")


@route("POST", "/v1/transfers/{id}/reversals", params=TransferReversalCreateParams, connect=False)
def reversal_create_route(req: Request) -> JSON:
    p = req.params
    metadata = p.get("metadata")
    return reversal_create(
        req.args["id"],
        amount=int(p["amount"]) if p.get("amount") is not None else None,
        refund_application_fee=bool(p.get("refund_application_fee")),
        metadata=metadata if isinstance(metadata, dict) else None,
        description=p.get("description"),
    )


@route("GET", "/v1/transfers/{id}/reversals", params=TransferReversalListParams, connect=False)
def reversal_list(req: Request) -> JSON:
    store.get(req.args["id"], object_type="transfer", account="")
    qs = store.queryset("transfer_reversal", account="").filter(data__transfer=req.args["id"])
    return store.list_response(qs, req.params, url=f"/v1/transfers/{req.args['id']}/reversals")


@route(
    "GET",
    "/v1/transfers/{transfer}/reversals/{id}",
    params=TransferReversalRetrieveParams,
    connect=False,
)
def reversal_retrieve(req: Request) -> JSON:
    reversal = store.get(
        req.args["id"], object_type="transfer_reversal", account="", name="transfer reversal"
    )
    if reversal["transfer"] != req.args["transfer"]:
        raise resource_missing("transfer reversal", req.args["id"], "id")
    return reversal


# --- routes: application fees ------------------------------------------------------------------
@route("GET", "/v1/application_fees/{id}", params=ApplicationFeeRetrieveParams, connect=False)
def fee_retrieve(req: Request) -> JSON:
    return store.get(
        req.args["id"], object_type="application_fee", account="", name="application fee"
    )


@route("GET", "/v1/application_fees", params=ApplicationFeeListParams, connect=False)
def fee_list(req: Request) -> JSON:
    qs = store.queryset("application_fee", account="")
    if req.params.get("charge"):
        qs = qs.filter(data__charge=req.params["charge"])
    return store.list_response(qs, req.params, url="/v1/application_fees")


@route(
    "POST",
    "/v1/application_fees/{id}/refunds",
    params=ApplicationFeeRefundCreateParams,
    connect=False,
)
def fee_refund_route(req: Request) -> JSON:
    p = req.params
    metadata = p.get("metadata")
    return fee_refund_create(
        req.args["id"],
        amount=int(p["amount"]) if p.get("amount") is not None else None,
        metadata=metadata if isinstance(metadata, dict) else None,
    )


@route(
    "GET", "/v1/application_fees/{id}/refunds", params=ApplicationFeeRefundListParams, connect=False
)
def fee_refund_list(req: Request) -> JSON:
    store.get(req.args["id"], object_type="application_fee", account="", name="application fee")
    qs = store.queryset("fee_refund", account="").filter(data__fee=req.args["id"])
    return store.list_response(qs, req.params, url=f"/v1/application_fees/{req.args['id']}/refunds")


@route(
    "GET",
    "/v1/application_fees/{fee}/refunds/{id}",
    params=ApplicationFeeRefundRetrieveParams,
    connect=False,
)
def fee_refund_retrieve(req: Request) -> JSON:
    refund = store.get(req.args["id"], object_type="fee_refund", account="", name="fee refund")
    if refund["fee"] != req.args["fee"]:
        raise resource_missing("fee refund", req.args["id"], "id")
    return refund
