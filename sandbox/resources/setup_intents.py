"""SetupIntents (``/v1/setup_intents``: create, retrieve, update, confirm, cancel, list): saving a
card for later payments without charging it.

Statuses as Stripe's: ``requires_payment_method`` -> (confirm) ``requires_action`` (3D Secure
cards) -> ``succeeded``; a declined card returns the intent to ``requires_payment_method`` with
``last_setup_error`` (402 ``card_error``, ``setup_intent.setup_failed``); ``canceled``. On success
the PaymentMethod is attached to the intent's ``customer`` (``payment_method.attached``) and
``setup_intent.succeeded`` is sent; a card set up with a 3D Secure challenge
(4000002500003155) is then charged off session without a new one. Card SetupIntents only
(the sandbox refuses other payment method types). The publishable key (stand-in Stripe.js) may
retrieve and confirm one with its ``client_secret`` (sandbox.access).
"""

from __future__ import annotations

from typing import Any, Literal, TypedDict

from stripe.params import (
    SetupIntentCancelParams,
    SetupIntentConfirmParams,
    SetupIntentCreateParams,
    SetupIntentListParams,
    SetupIntentRetrieveParams,
    SetupIntentUpdateParams,
)

from sandbox import cards, store
from sandbox.errors import StripeError, card_error, invalid_request, parameter_missing
from sandbox.events import emit
from sandbox.ids import new_id, random_token
from sandbox.models import SandboxObject
from sandbox.resources import customers
from sandbox.resources.accounts import site_url
from sandbox.resources.payments.common import check_return_url
from sandbox.router import Request, route

JSON = dict[str, Any]

ACTIVE = ("requires_payment_method", "requires_confirmation", "requires_action")


def _event_account(account: str) -> str | None:
    return account or None


def _row(seti_id: str, *, account: str | None) -> SandboxObject:
    return store.get_row(
        seti_id,
        object_type="setup_intent",
        account=account,
        for_update=True,
        name="setupintent",
        param="intent",
    )


def _unexpected(si: JSON, action: str) -> StripeError:
    return StripeError(
        f"You cannot {action} this SetupIntent because it has a status of {si['status']}.",
        code="setup_intent_unexpected_state",
        extra={"setup_intent": si},
    )


def _types(p: JSON) -> list[str]:
    given = p.get("payment_method_types") or p.get("allowed_payment_method_types") or ["card"]
    for index, kind in enumerate(given):
        if kind != "card":
            raise invalid_request(
                f"The payment method type `{kind}` is not supported by the Stripe sandbox's "
                "SetupIntents, which emulate: card.",
                param=f"payment_method_types[{index}]",
                code="payment_method_unactivated",
            )
    return ["card"]


def _payment_method(given: str, *, account: str, customer: str | None) -> JSON:
    pm = cards.resolve(given, account=account)
    if pm.get("type") != "card":
        raise invalid_request(
            "The Stripe sandbox's SetupIntents emulate card PaymentMethods only.",
            param="payment_method",
        )
    cards.check_reusable(pm["id"], customer=customer)
    return pm


def setup_intent_create(p: JSON, *, account: str = "") -> JSON:
    """Store a SetupIntent (``setup_intent.created``), with its payment method when given."""
    customer = p.get("customer")
    if customer:
        store.get(str(customer), object_type="customer", account=account, param="customer")
    if p.get("single_use"):
        raise invalid_request(
            "single_use SetupIntents (with a later amount) are not emulated by the Stripe sandbox.",
            param="single_use",
        )
    usage = p.get("usage") or "off_session"
    metadata = p.get("metadata")
    seti_id = new_id("seti")
    data: JSON = {
        "application": None,
        "automatic_payment_methods": None,
        "cancellation_reason": None,
        "client_secret": f"{seti_id}_secret_{random_token(25)}",
        "customer": customer or None,
        "description": p.get("description"),
        "flow_directions": None,
        "last_setup_error": None,
        "latest_attempt": None,
        "livemode": False,
        "mandate": None,
        "metadata": metadata if isinstance(metadata, dict) else {},
        "next_action": None,
        "on_behalf_of": p.get("on_behalf_of"),
        "payment_method": None,
        "payment_method_configuration_details": None,
        "payment_method_options": {
            "card": {
                "mandate_options": None,
                "network": None,
                "request_three_d_secure": "automatic",
            }
        },
        "payment_method_types": _types(p),
        "single_use_mandate": None,
        "status": "requires_payment_method",
        "usage": usage,
    }
    if p.get("payment_method"):
        pm = _payment_method(str(p["payment_method"]), account=account, customer=customer)
        data["payment_method"] = pm["id"]
        data["status"] = "requires_confirmation"
    si = store.create("seti", "setup_intent", data, account=account, object_id=seti_id)
    emit("setup_intent.created", si, account=_event_account(account))
    return si


Outcome = tuple[JSON, StripeError | None]


def setup_intent_confirm(
    seti_id: str, *, account: str, payment_method: str | None, return_url: str | None
) -> Outcome:
    """Confirm: set the card up, or ask for 3D Secure. Returns the intent and the error to
    answer with (a decline's 402 card error; its failed state and ``setup_intent.setup_failed``
    are written), None on success."""
    row = _row(seti_id, account=account)
    si = row.data
    if si["status"] not in ACTIVE:
        raise _unexpected(si, "confirm")
    pm_id = payment_method or si.get("payment_method")
    if not pm_id:
        raise invalid_request(
            "You cannot confirm this SetupIntent because it's missing a payment method. Update "
            "the SetupIntent with a payment method and then confirm it again.",
            code="setup_intent_unexpected_state",
            param="payment_method",
        )
    return_url = check_return_url(return_url)
    pm = _payment_method(str(pm_id), account=account, customer=si.get("customer"))
    si["payment_method"] = pm["id"]
    si["last_setup_error"] = None
    if return_url:
        row.private["return_url"] = return_url
    number = cards.number_of(pm["id"])
    behaviour = cards.behaviour(number)
    if behaviour.requires_action:
        si["status"] = "requires_action"
        si["next_action"] = {
            "type": "redirect_to_url",
            "redirect_to_url": {
                "return_url": return_url or row.private.get("return_url"),
                "url": site_url(f"/sandbox/authenticate/{seti_id}/"),
            },
        }
        saved = store.save(row)
        emit("setup_intent.requires_action", saved, account=_event_account(row.account))
        return saved, None
    return _finish(row, pm, authenticated=False)


def _finish(row: SandboxObject, pm: JSON, *, authenticated: bool) -> Outcome:
    si = row.data
    behaviour = cards.behaviour(cards.number_of(pm["id"]))
    if behaviour.decline_code is not None and not behaviour.declines_charges_only:
        return _fail(
            row,
            pm,
            code=behaviour.error_code,
            decline_code=behaviour.decline_code,
            message=behaviour.message,
            type="card_error",
        )
    cards.mark_set_up(pm["id"], authenticated=authenticated)
    if si.get("customer"):
        customers.attach_payment_method(pm["id"], si["customer"], account=row.account)
    si.update(status="succeeded", next_action=None, payment_method=pm["id"])
    saved = store.save(row)
    emit("setup_intent.succeeded", saved, account=_event_account(row.account))
    from sandbox.resources import subscriptions

    subscriptions.setup_intent_succeeded(saved)
    return saved, None


def _fail(
    row: SandboxObject,
    pm: JSON,
    *,
    code: str,
    decline_code: str | None,
    message: str,
    type: str,
) -> Outcome:
    si = row.data
    error: JSON = {
        "code": code,
        "doc_url": f"https://stripe.com/docs/error-codes/{code.replace('_', '-')}",
        "message": message,
        "payment_method": pm,
        "type": type,
    }
    if decline_code:
        error["decline_code"] = decline_code
    si.update(
        status="requires_payment_method",
        next_action=None,
        payment_method=None,
        last_setup_error=error,
    )
    saved = store.save(row)
    emit("setup_intent.setup_failed", saved, account=_event_account(row.account))
    if type == "card_error":
        return saved, card_error(
            message, code=code, decline_code=decline_code, extra={"setup_intent": saved}
        )
    return saved, StripeError(message, code=code, keep_changes=True, extra={"setup_intent": saved})


def setup_intent_authenticate(
    seti_id: str, *, approve: bool, account: str | None = None
) -> Outcome:
    """The 3D Secure challenge's answer: approve sets the card up, fail is Stripe's 400
    ``setup_intent_authentication_failure``."""
    row = _row(seti_id, account=account)
    si = row.data
    if si["status"] != "requires_action":
        raise _unexpected(si, "authenticate")
    pm = store.get(si["payment_method"], object_type="payment_method")
    if approve:
        return _finish(row, pm, authenticated=True)
    return _fail(
        row,
        pm,
        code="setup_intent_authentication_failure",
        decline_code=None,
        message=(
            "The latest attempt to set up the payment method has failed because authentication "
            "failed."
        ),
        type="invalid_request_error",
    )


def _raise_if(error: StripeError | None) -> None:
    if error is not None:
        raise error


# --- routes ------------------------------------------------------------------------------------
@route("POST", "/v1/setup_intents", params=SetupIntentCreateParams)
def create(req: Request) -> JSON:
    p = req.params
    if p.get("confirm") and not p.get("payment_method"):
        raise invalid_request(
            "You cannot confirm this SetupIntent because it's missing a payment method.",
            param="payment_method",
            code="setup_intent_unexpected_state",
        )
    si = setup_intent_create(p, account=req.account)
    if p.get("confirm"):
        si, error = setup_intent_confirm(
            si["id"], account=req.account, payment_method=None, return_url=p.get("return_url")
        )
        _raise_if(error)
    return si


@route(
    "GET",
    "/v1/setup_intents/{intent}",
    params=SetupIntentRetrieveParams,
    publishable="setup_intent",
)
def retrieve(req: Request) -> JSON:
    return store.get(
        req.args["intent"],
        object_type="setup_intent",
        account=req.account,
        name="setupintent",
        param="intent",
    )


@route("POST", "/v1/setup_intents/{intent}", params=SetupIntentUpdateParams)
def update(req: Request) -> JSON:
    p = req.params
    row = _row(req.args["intent"], account=req.account)
    si = row.data
    if ({"payment_method", "customer"} & set(p)) and si["status"] not in ACTIVE:
        raise _unexpected(si, "update")
    if p.get("customer"):
        store.get(str(p["customer"]), object_type="customer", account=req.account, param="customer")
        si["customer"] = p["customer"]
    if p.get("payment_method"):
        pm = _payment_method(
            str(p["payment_method"]), account=req.account, customer=si.get("customer")
        )
        si["payment_method"] = pm["id"]
        si["status"] = "requires_confirmation"
    if "description" in p:
        si["description"] = p["description"] or None
    if "metadata" in p:
        si["metadata"] = store.merge_metadata(si.get("metadata"), p["metadata"])
    return store.save(row)


@route(
    "POST",
    "/v1/setup_intents/{intent}/confirm",
    params=SetupIntentConfirmParams,
    publishable="setup_intent",
)
def confirm(req: Request) -> JSON:
    p = req.params
    si, error = setup_intent_confirm(
        req.args["intent"],
        account=req.account,
        payment_method=p.get("payment_method"),
        return_url=p.get("return_url"),
    )
    _raise_if(error)
    return si


class TestAuthenticationParams(TypedDict, total=False):
    """The sandbox's answer to a 3-D Secure challenge (see the PaymentIntents twin)."""

    outcome: Literal["complete", "fail"]  # required (checked by the route)
    expand: list[str]


@route(
    "POST",
    "/v1/setup_intents/{intent}/test_authentication",
    params=TestAuthenticationParams,
    publishable="setup_intent",
)
def authentication_answer(req: Request) -> JSON:
    if not req.params.get("outcome"):
        raise parameter_missing("outcome")
    si, error = setup_intent_authenticate(
        req.args["intent"], approve=req.params["outcome"] == "complete", account=req.account
    )
    _raise_if(error)
    return si


@route("POST", "/v1/setup_intents/{intent}/cancel", params=SetupIntentCancelParams)
def cancel(req: Request) -> JSON:
    row = _row(req.args["intent"], account=req.account)
    si = row.data
    if si["status"] not in ACTIVE:
        raise StripeError(
            "You cannot cancel this SetupIntent because it has a status of "
            f"{si['status']}. Only a SetupIntent with one of the following statuses may be "
            "canceled: requires_payment_method, requires_confirmation, requires_action.",
            code="setup_intent_unexpected_state",
        )
    si.update(
        status="canceled",
        cancellation_reason=req.params.get("cancellation_reason") or None,
        next_action=None,
    )
    saved = store.save(row)
    emit("setup_intent.canceled", saved, account=_event_account(req.account))
    return saved


@route("GET", "/v1/setup_intents", params=SetupIntentListParams)
def list_intents(req: Request) -> JSON:
    qs = store.queryset("setup_intent", account=req.account)
    if req.params.get("customer"):
        qs = qs.filter(data__customer=req.params["customer"])
    if req.params.get("payment_method"):
        qs = qs.filter(data__payment_method=req.params["payment_method"])
    qs = store.apply_created_filter(qs, req.params.get("created"))
    return store.list_response(qs, req.params, url="/v1/setup_intents")
