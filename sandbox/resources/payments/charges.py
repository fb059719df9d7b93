"""Charges (``/v1/charges``: retrieve, update, list). Charges are created by PaymentIntents
(``attempts``)."""

from __future__ import annotations

from stripe.params import ChargeListParams, ChargeRetrieveParams, ChargeUpdateParams

from sandbox import store
from sandbox.events import emit
from sandbox.resources.payments.common import JSON, _event_account
from sandbox.router import Request, route


@route("GET", "/v1/charges/{charge}", params=ChargeRetrieveParams)
def retrieve_charge(req: Request) -> JSON:
    return store.get(req.args["charge"], object_type="charge", account=req.account, param="charge")


@route("POST", "/v1/charges/{charge}", params=ChargeUpdateParams)
def update_charge(req: Request) -> JSON:
    p = req.params
    changes: JSON = {}
    for key in ("description", "receipt_email", "metadata", "transfer_group"):
        if key in p:
            changes[key] = p[key]
    charge, previous = store.update(
        req.args["charge"], changes, object_type="charge", account=req.account
    )
    if previous:
        emit(
            "charge.updated",
            charge,
            account=_event_account(req.account),
            previous_attributes=previous,
        )
    return charge


@route("GET", "/v1/charges", params=ChargeListParams)
def list_charges(req: Request) -> JSON:
    qs = store.queryset("charge", account=req.account)
    for key in ("payment_intent", "customer", "transfer_group"):
        if req.params.get(key):
            qs = qs.filter(**{f"data__{key}": req.params[key]})
    return store.list_response(qs, req.params, url="/v1/charges")
