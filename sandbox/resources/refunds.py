"""Refunds (``/v1/refunds``: create, retrieve, update, list).

A refund of ``amount`` on a charge (default: all that remains) takes the money from the
platform (balance transaction ``refund``, negative; Stripe's processing fee is not returned).
``reverse_transfer=true`` reverses the charge's transfer pro rata:
``round_half_up(transfer.amount * amount / charge.amount)``; ``refund_application_fee=true``
refunds the application fee pro rata: ``round_half_up(fee.amount * amount / charge.amount)``.
A refund of everything that remains also sweeps the rounding residue of the earlier partial
refunds (at most one minor unit each), so partial refunds add up to the totals; it does not
take back the share of an earlier refund made without ``reverse_transfer`` (the platform paid
that one). Card refunds succeed at once (``status`` ``succeeded``).
Events: ``refund.created``, ``charge.refunded`` (and ``transfer.reversed`` /
``application_fee.refunded``); ``refund.updated`` on updates.
"""

from __future__ import annotations

from typing import Any

from stripe.params import (
    RefundCreateParams,
    RefundListParams,
    RefundRetrieveParams,
    RefundUpdateParams,
)

from sandbox import clock, store
from sandbox.errors import invalid_request
from sandbox.events import emit
from sandbox.ids import new_id
from sandbox.models import SandboxObject
from sandbox.resources import balances, transfers
from sandbox.router import Request, route

JSON = dict[str, Any]
SYMBOLS = {"usd": "$", "eur": "€", "gbp": "£", "jpy": "¥"}
REASONS = ("duplicate", "fraudulent", "requested_by_customer")


def display(amount: int, currency: str) -> str:
    """Stripe's way of showing an amount in error messages ("$20.00", "€5.50")."""
    from sandbox.resources.payments import ZERO_DECIMAL

    symbol = SYMBOLS.get(currency, currency.upper() + " ")
    if currency in ZERO_DECIMAL:
        return f"{symbol}{amount}"
    return f"{symbol}{amount // 100}.{amount % 100:02d}"


def _charge_for(p: JSON, account: str) -> SandboxObject:
    if p.get("charge"):
        return store.get_row(
            str(p["charge"]), object_type="charge", account=account, for_update=True, param="charge"
        )
    if p.get("payment_intent"):
        pi = store.get(
            str(p["payment_intent"]),
            object_type="payment_intent",
            account=account,
            name="payment_intent",
            param="payment_intent",
        )
        if pi["status"] != "succeeded" or not pi.get("latest_charge"):
            raise invalid_request(
                f"This PaymentIntent ({pi['id']}) does not have a successful charge to refund.",
                param="payment_intent",
                code="charge_not_refundable",
            )
        return store.get_row(pi["latest_charge"], object_type="charge", for_update=True)
    raise invalid_request(
        "One of the following params should be provided for this request: payment_intent or "
        "charge.",
        code="parameter_missing",
    )


def refund_create(p: JSON, *, account: str = "") -> JSON:
    """Create a refund from ``RefundCreateParams``-shaped fields (see the module docstring)."""
    row = _charge_for(p, account)
    charge = row.data
    if charge["status"] != "succeeded" or not charge.get("captured"):
        raise invalid_request(
            f"Charge {charge['id']} has not been captured; cancel its PaymentIntent instead.",
            param="charge",
            code="charge_not_refundable",
        )
    if charge.get("disputed") and row.private.get("dispute_open"):
        raise invalid_request(
            f"Charge {charge['id']} has been charged back; cannot issue a refund.",
            code="charge_disputed",
        )
    total = int(charge["amount"])
    remaining = total - int(charge["amount_refunded"])
    if remaining <= 0:
        raise invalid_request(
            f"Charge {charge['id']} has already been refunded.", code="charge_already_refunded"
        )
    amount = remaining if p.get("amount") is None else int(p["amount"])
    if amount <= 0:
        raise invalid_request("Invalid positive integer", param="amount")
    currency = charge["currency"]
    if amount > remaining:
        raise invalid_request(
            f"Refund amount ({display(amount, currency)}) is greater than unrefunded amount on "
            f"charge ({display(remaining, currency)})",
            param="amount",
        )
    reason = p.get("reason")
    if reason is not None and reason not in REASONS:
        raise invalid_request(
            f"Invalid reason: must be one of {', '.join(REASONS)}", param="reason"
        )
    takes_all = amount == remaining
    earlier = store.queryset("refund", account=account).filter(data__charge=charge["id"]).count()

    def share_back(share: int, left: int) -> int:
        part = transfers.pro_rata(share, amount, total, remaining=left)
        if takes_all and left - part <= earlier:  # the rounding residue of earlier refunds
            return left
        return part

    refund_id = new_id("re")
    txn = balances.record(
        account=account,
        type="refund",
        amount=-amount,
        currency=currency,
        source=refund_id,
        description="REFUND FOR CHARGE"
        + (f" ({charge['description']})" if charge.get("description") else ""),
        available=clock.now(),
    )
    reversal_id = None
    if p.get("reverse_transfer"):
        if not charge.get("transfer"):
            raise invalid_request(
                "You can only reverse the transfer of a charge that has a transfer "
                "(transfer_data[destination]).",
                param="reverse_transfer",
            )
        transfer = store.get(charge["transfer"], object_type="transfer")
        left = int(transfer["amount"]) - int(transfer["amount_reversed"])
        part = share_back(int(transfer["amount"]), left)
        if part > 0:
            reversal_id = transfers.reversal_create(
                transfer["id"], amount=part, source_refund=refund_id
            )["id"]
    if p.get("refund_application_fee") and charge.get("application_fee"):
        fee = store.get(charge["application_fee"], object_type="application_fee")
        left = int(fee["amount"]) - int(fee["amount_refunded"])
        part = share_back(int(fee["amount"]), left)
        if part > 0:
            transfers.fee_refund_create(fee["id"], amount=part)
    metadata = p.get("metadata")
    refund = store.create(
        "re",
        "refund",
        {
            "amount": amount,
            "balance_transaction": txn["id"],
            "charge": charge["id"],
            "currency": currency,
            "destination_details": None,
            "metadata": metadata if isinstance(metadata, dict) else {},
            "payment_intent": charge.get("payment_intent"),
            "reason": reason,
            "receipt_number": None,
            "source_transfer_reversal": None,
            "status": "succeeded",
            "transfer_reversal": reversal_id,
        },
        account=account,
        object_id=refund_id,
    )
    before = {"amount_refunded": charge["amount_refunded"], "refunded": charge["refunded"]}
    charge["amount_refunded"] = int(charge["amount_refunded"]) + amount
    charge["refunded"] = charge["amount_refunded"] >= total
    saved = store.save(row)
    event_account = account or None
    emit("refund.created", refund, account=event_account)
    emit("charge.refunded", saved, account=event_account, previous_attributes=before)
    return refund


@route("POST", "/v1/refunds", params=RefundCreateParams)
def create(req: Request) -> JSON:
    return refund_create(req.params, account=req.account)


@route("GET", "/v1/refunds/{refund}", params=RefundRetrieveParams)
def retrieve(req: Request) -> JSON:
    return store.get(req.args["refund"], object_type="refund", account=req.account, param="refund")


@route("POST", "/v1/refunds/{refund}", params=RefundUpdateParams)
def update(req: Request) -> JSON:
    changes = {"metadata": req.params["metadata"]} if "metadata" in req.params else {}
    refund, previous = store.update(
        req.args["refund"], changes, object_type="refund", account=req.account
    )
    if previous:
        emit("refund.updated", refund, account=req.account or None, previous_attributes=previous)
    return refund


@route("GET", "/v1/refunds", params=RefundListParams)
def list_(req: Request) -> JSON:
    qs = store.queryset("refund", account=req.account)
    for key in ("charge", "payment_intent"):
        if req.params.get(key):
            qs = qs.filter(**{f"data__{key}": req.params[key]})
    return store.list_response(qs, req.params, url="/v1/refunds")
