"""PaymentIntents (``/v1/payment_intents``: create, retrieve, update, confirm, capture, cancel,
list).

Status transitions follow Stripe: ``requires_payment_method`` -> (confirm)
``requires_action`` (3D Secure cards) -> ``succeeded`` | ``requires_capture``
(``capture_method=manual``) -> (capture) ``succeeded``; a decline leaves the intent in
``requires_payment_method`` with ``last_payment_error`` and a failed charge; ``canceled``.
"""

from __future__ import annotations

from typing import Literal, TypedDict

from django.conf import settings
from stripe.params import (
    PaymentIntentCancelParams,
    PaymentIntentCaptureParams,
    PaymentIntentConfirmParams,
    PaymentIntentCreateParams,
    PaymentIntentListParams,
    PaymentIntentRetrieveParams,
    PaymentIntentUpdateParams,
)

from sandbox import cards, clock, sepa, store
from sandbox.errors import StripeError, invalid_request, parameter_missing
from sandbox.events import emit
from sandbox.ids import new_id, random_token
from sandbox.models import SandboxObject
from sandbox.resources.accounts import site_url
from sandbox.resources.payments.attempts import (
    _attempt,
    _attempt_async,
    authentication_required,
    capture,
)
from sandbox.resources.payments.common import (
    CANCELABLE,
    JSON,
    PI_ACTIVE,
    _event_account,
    _raise_if,
    _unexpected_state,
    check_amount,
    check_application_fee,
    check_destination,
    check_return_url,
    intent_row,
)
from sandbox.router import Request, route

EXCLUSIVE_WITH_ALLOWED = (
    "payment_method_types",
    "excluded_payment_method_types",
    "automatic_payment_methods",
    "payment_method_configuration",
)


def _emulated(kind: str, param: str) -> str:
    if kind not in sepa.SUPPORTED_TYPES:
        raise invalid_request(
            f"The payment method type `{kind}` is not supported by the Stripe sandbox, which "
            f"emulates: {', '.join(sepa.SUPPORTED_TYPES)}.",
            param=param,
            code="payment_method_unactivated",
        )
    return kind


def _fits(kind: str, currency: str) -> bool:
    currencies = sepa.SUPPORTED_TYPES[kind]
    return currencies is None or currency in currencies


def method_types(p: JSON, currency: str) -> list[str]:
    """The intent's ``payment_method_types``, as Stripe computes them:
    - ``payment_method_types`` (API versions before 2026-09-30): the explicit list; a type that
      can't be used (not emulated, or not for this currency) is a 400 naming it;
    - ``allowed_payment_method_types``: incompatible types are filtered out (Stripe's documented
      behaviour), but a type the sandbox does not emulate is a 400 naming it (never dropped);
    - otherwise the account's dynamic default (setting ``SANDBOX_PAYMENT_METHOD_TYPES``, default
      card) for the currency, minus ``excluded_payment_method_types``."""
    if p.get("allowed_payment_method_types"):
        for key in EXCLUSIVE_WITH_ALLOWED:
            if p.get(key):
                raise invalid_request(
                    f"You cannot pass `allowed_payment_method_types` together with `{key}`.",
                    param="allowed_payment_method_types",
                )
        allowed = [
            _emulated(str(kind), f"allowed_payment_method_types[{i}]")
            for i, kind in enumerate(p["allowed_payment_method_types"])
        ]
        types = [kind for kind in dict.fromkeys(allowed) if _fits(kind, currency)]
        if not types:
            raise invalid_request(
                "None of the allowed_payment_method_types can be used with the currency "
                f"{currency}.",
                param="allowed_payment_method_types",
            )
        return types
    if p.get("payment_method_types"):
        types = []
        for i, kind in enumerate(p["payment_method_types"]):
            kind = _emulated(str(kind), f"payment_method_types[{i}]")
            if not _fits(kind, currency):
                raise invalid_request(
                    f"The currency provided ({currency}) is invalid for the payment method "
                    f"type `{kind}`.",
                    param=f"payment_method_types[{i}]",
                )
            if kind not in types:
                types.append(kind)
        return types
    excluded = {str(k) for k in p.get("excluded_payment_method_types") or []}
    default = [str(k) for k in getattr(settings, "SANDBOX_PAYMENT_METHOD_TYPES", ["card"])]
    types = [k for k in default if k in sepa.SUPPORTED_TYPES and _fits(k, currency)]
    types = [k for k in types if k not in excluded]
    if not types:
        raise invalid_request(
            "No payment method type is left for this PaymentIntent after "
            "excluded_payment_method_types.",
            param="excluded_payment_method_types",
        )
    return types


def payment_method_from_data(data: JSON, *, account: str) -> JSON:
    """``payment_method_data``: a PaymentMethod made on the fly. The sandbox emulates
    ``sepa_debit`` this way; card details come from Stripe.js, so a server-side ``card`` is
    refused with a pointer to the test PaymentMethods; other types are not emulated (400)."""
    kind = _emulated(str(data.get("type") or ""), "payment_method_data[type]")
    if kind == "sepa_debit":
        billing = data.get("billing_details") or {}
        return sepa.payment_method_create(
            iban=str((data.get("sepa_debit") or {}).get("iban") or ""),
            name=str(billing.get("name") or ""),
            email=billing.get("email"),
            account=account,
        )
    raise invalid_request(
        "Card details are collected by Stripe.js, not sent in payment_method_data; in test "
        "mode pass payment_method=pm_card_visa (or another test PaymentMethod).",
        param="payment_method_data[type]",
    )


def intent_create(p: JSON, *, account: str = "", checkout_session: str | None = None) -> JSON:
    """Store a PaymentIntent from ``PaymentIntentCreateParams``-shaped fields (no confirm);
    emits ``payment_intent.created``. Raises Stripe's 400s for a bad destination or fee."""
    currency = str(p.get("currency") or "").lower()
    if len(currency) != 3:
        raise invalid_request(
            "Missing required param: currency.", param="currency", code="parameter_missing"
        )
    amount = check_amount(p.get("amount"), currency)
    transfer_data: JSON | None = None
    if isinstance(p.get("transfer_data"), dict) and p["transfer_data"].get("destination"):
        destination = check_destination(p["transfer_data"]["destination"])
        transfer_data = {"destination": destination}
        if p["transfer_data"].get("amount") is not None:
            transfer_amount = int(p["transfer_data"]["amount"])
            if transfer_amount > amount or transfer_amount < 0:
                raise invalid_request(
                    "The transfer_data[amount] must be less than or equal to the amount.",
                    param="transfer_data[amount]",
                )
            transfer_data["amount"] = transfer_amount
    fee = check_application_fee(
        p.get("application_fee_amount"),
        amount,
        account=account,
        destination=transfer_data["destination"] if transfer_data else None,
    )
    if p.get("on_behalf_of"):
        check_destination(p["on_behalf_of"], param="on_behalf_of")
    capture_method = p.get("capture_method") or "automatic"
    if capture_method == "automatic_async":
        capture_method = "automatic_async"
    if p.get("customer"):
        store.get(str(p["customer"]), object_type="customer", account=account, param="customer")
    metadata = p.get("metadata")
    pi_id = new_id("pi")
    data: JSON = {
        "amount": amount,
        "amount_capturable": 0,
        "amount_details": {"tip": {}},
        "amount_received": 0,
        "application": None,
        "application_fee_amount": fee,
        "automatic_payment_methods": None,
        "canceled_at": None,
        "cancellation_reason": None,
        "capture_method": capture_method,
        "client_secret": f"{pi_id}_secret_{random_token(25)}",
        "confirmation_method": p.get("confirmation_method") or "automatic",
        "currency": currency,
        "customer": p.get("customer"),
        "description": p.get("description"),
        "last_payment_error": None,
        "latest_charge": None,
        "livemode": False,
        "metadata": metadata if isinstance(metadata, dict) else {},
        "next_action": None,
        "on_behalf_of": p.get("on_behalf_of"),
        "payment_method": None,
        "payment_method_options": {},
        "payment_method_types": method_types(p, currency),
        "processing": None,
        "receipt_email": p.get("receipt_email"),
        "review": None,
        "setup_future_usage": p.get("setup_future_usage"),
        "shipping": None,
        "source": None,
        "statement_descriptor": p.get("statement_descriptor"),
        "statement_descriptor_suffix": p.get("statement_descriptor_suffix"),
        "status": "requires_payment_method",
        "transfer_data": transfer_data,
        "transfer_group": p.get("transfer_group"),
    }
    private: JSON = {}
    if checkout_session:
        private["checkout_session"] = checkout_session
    pi = store.create(
        "pi", "payment_intent", data, account=account, object_id=pi_id, private=private
    )
    pm_data = p.get("payment_method_data")
    if isinstance(pm_data, dict) and pm_data and not p.get("payment_method"):
        pm = payment_method_from_data(pm_data, account=account)
        pi, _ = store.update(pi_id, {"payment_method": pm["id"]}, object_type="payment_intent")
        pi, _ = store.update(
            pi_id, {"status": "requires_confirmation"}, object_type="payment_intent"
        )
    if p.get("payment_method"):
        pm = cards.resolve(str(p["payment_method"]), account=account)
        pi, _ = store.update(pi_id, {"payment_method": pm["id"]}, object_type="payment_intent")
        pi, _ = store.update(
            pi_id, {"status": "requires_confirmation"}, object_type="payment_intent"
        )
    emit("payment_intent.created", pi, account=_event_account(account))
    return pi


def intent_confirm(
    pi_id: str,
    *,
    account: str,
    payment_method: str | None = None,
    return_url: str | None = None,
    off_session: bool = False,
    setup_future_usage: str | None = None,
) -> tuple[JSON, StripeError | None]:
    """Confirm: charge the payment method (or ask for 3D Secure). Returns the intent and the
    card error to answer with (None on success); the failed charge and events are written.
    ``off_session``: nobody is there to authenticate, so a card whose bank asks for 3D Secure
    fails with ``authentication_required`` (402) unless it was set up with a challenge."""
    row = intent_row(pi_id, account=account)
    pi = row.data
    if pi["status"] not in PI_ACTIVE:
        raise invalid_request(
            f"You cannot confirm this PaymentIntent because it has a status of {pi['status']}.",
            code="payment_intent_unexpected_state",
        )
    return_url = check_return_url(return_url)
    pm_id = payment_method or pi.get("payment_method")
    if not pm_id:
        raise invalid_request(
            "You cannot confirm this PaymentIntent because it's missing a payment method. To "
            "confirm the PaymentIntent with cus_xxx, specify a payment method attached to this "
            "customer along with the customer ID.",
            code="payment_intent_unexpected_state",
            param="payment_method",
        )
    pm = cards.resolve(str(pm_id), account=account)
    cards.check_reusable(pm["id"], customer=pi.get("customer"))
    if setup_future_usage is not None:
        pi["setup_future_usage"] = setup_future_usage or None
    if pm.get("type") == "sepa_debit":
        pi["payment_method"] = pm["id"]
        pi["last_payment_error"] = None
        return _attempt_async(row, pm), None
    number = cards.number_of(pm["id"])
    behaviour = cards.behaviour(number)
    pi["payment_method"] = pm["id"]
    pi["last_payment_error"] = None
    if return_url:
        row.private["return_url"] = return_url
    if behaviour.requires_action and row.private.get("authenticated_pm") != pm["id"]:
        if off_session:
            if cards.off_session_ready(pm["id"]):
                return _attempt(row, pm, number)
            return _attempt(row, pm, number, behaviour=authentication_required(number))
        pi["status"] = "requires_action"
        pi["next_action"] = {
            "type": "redirect_to_url",
            "redirect_to_url": {
                "return_url": return_url or row.private.get("return_url"),
                "url": site_url(f"/sandbox/authenticate/{pi_id}/"),
            },
        }
        saved = store.save(row)
        emit("payment_intent.requires_action", saved, account=_event_account(account))
        return saved, None
    return _attempt(row, pm, number)


def intent_authenticate(pi_id: str, *, approve: bool) -> tuple[JSON, StripeError | None]:
    """The 3D Secure challenge's answer: approve charges the card, fail returns the intent to
    ``requires_payment_method`` with ``payment_intent_authentication_failure``."""
    row = intent_row(pi_id, account=None)
    pi = row.data
    if pi["status"] != "requires_action":
        raise _unexpected_state(pi, "authentication")
    pm = store.get(pi["payment_method"], object_type="payment_method")
    if approve:
        row.private["authenticated_pm"] = pm["id"]
        return _attempt(row, pm, cards.number_of(pm["id"]), three_d_secure=True)
    message = (
        "The provided PaymentMethod has failed authentication. You can provide "
        "payment_method_data or a new PaymentMethod to attempt to fulfill this PaymentIntent "
        "again."
    )
    pi.update(
        status="requires_payment_method",
        next_action=None,
        payment_method=None,
        last_payment_error={
            "code": "payment_intent_authentication_failure",
            "doc_url": "https://stripe.com/docs/error-codes/payment-intent-authentication-failure",
            "message": message,
            "payment_method": pm,
            "type": "invalid_request_error",
        },
    )
    saved = store.save(row)
    emit("payment_intent.payment_failed", saved, account=_event_account(row.account))
    error = StripeError(
        message,
        code="payment_intent_authentication_failure",
        keep_changes=True,
        extra={"payment_intent": saved},
    )
    return saved, error


def intent_cancel(row: SandboxObject, *, reason: str | None) -> JSON:
    pi = row.data
    if pi["status"] not in CANCELABLE:
        raise invalid_request(
            "You cannot cancel this PaymentIntent because it has a status of "
            f"{pi['status']}. Only a PaymentIntent with one of the following statuses may be "
            "canceled: requires_payment_method, requires_capture, requires_confirmation, "
            "requires_action, processing.",
            code="payment_intent_unexpected_state",
        )
    if pi["status"] == "requires_capture" and pi.get("latest_charge"):
        charge_row = store.get_row(pi["latest_charge"], object_type="charge", for_update=True)
        charge_row.data["amount_refunded"] = charge_row.data["amount"]
        charge_row.data["refunded"] = True
        store.save(charge_row)
    pi.update(
        status="canceled",
        canceled_at=clock.now(),
        cancellation_reason=reason or None,
        amount_capturable=0,
        next_action=None,
    )
    saved = store.save(row)
    emit("payment_intent.canceled", saved, account=_event_account(row.account))
    return saved


def _off_session(value: object) -> bool:
    """``off_session``: true, or "one_off" / "recurring" (Stripe's two kinds)."""
    return value is True or value in ("true", "one_off", "recurring")


# --- routes ------------------------------------------------------------------------------------
@route("POST", "/v1/payment_intents", params=PaymentIntentCreateParams)
def create(req: Request) -> JSON:
    p = req.params
    if p.get("confirm") and not p.get("payment_method") and not p.get("payment_method_data"):
        raise invalid_request(
            "You cannot confirm this PaymentIntent because it's missing a payment method.",
            param="payment_method",
            code="payment_intent_unexpected_state",
        )
    pi = intent_create(p, account=req.account)
    if p.get("confirm"):
        pi, error = intent_confirm(
            pi["id"],
            account=req.account,
            return_url=p.get("return_url"),
            off_session=_off_session(p.get("off_session")),
        )
        _raise_if(error)
    return pi


@route(
    "GET",
    "/v1/payment_intents/{intent}",
    params=PaymentIntentRetrieveParams,
    publishable="payment_intent",
)
def retrieve(req: Request) -> JSON:
    return store.get(
        req.args["intent"],
        object_type="payment_intent",
        account=req.account,
        name="payment_intent",
        param="intent",
    )


@route("POST", "/v1/payment_intents/{intent}", params=PaymentIntentUpdateParams)
def update(req: Request) -> JSON:
    row = intent_row(req.args["intent"], account=req.account)
    p = req.params
    before = dict(row.data)
    pi = row.data
    money_fields = {
        "payment_method_types",
        "allowed_payment_method_types",
        "amount",
        "currency",
        "application_fee_amount",
        "transfer_data",
        "payment_method",
    }
    if money_fields & set(p) and pi["status"] not in PI_ACTIVE:
        raise _unexpected_state(pi, "update")
    if "amount" in p:
        pi["amount"] = check_amount(p["amount"], pi["currency"])
    if "application_fee_amount" in p:
        pi["application_fee_amount"] = check_application_fee(
            p["application_fee_amount"],
            pi["amount"],
            account=req.account,
            destination=(pi.get("transfer_data") or {}).get("destination"),
        )
    if p.get("payment_method_types") or p.get("allowed_payment_method_types"):
        pi["payment_method_types"] = method_types(p, pi["currency"])
    if p.get("payment_method"):
        pi["payment_method"] = cards.resolve(str(p["payment_method"]), account=req.account)["id"]
    for key in ("description", "receipt_email", "transfer_group", "statement_descriptor"):
        if key in p:
            pi[key] = p[key] or None
    if p.get("customer"):
        store.get(str(p["customer"]), object_type="customer", account=req.account, param="customer")
        pi["customer"] = str(p["customer"])
    if "setup_future_usage" in p:
        # Stripe: off_session or on_session saves the card the intent is confirmed with to its
        # customer; an empty string unsets it (allowed while the intent is not yet confirmed).
        if pi["status"] not in PI_ACTIVE:
            raise _unexpected_state(pi, "update")
        value = p["setup_future_usage"] or None
        if value not in (None, "off_session", "on_session"):
            raise invalid_request(
                "Invalid setup_future_usage: must be one of off_session or on_session",
                param="setup_future_usage",
            )
        pi["setup_future_usage"] = value
    if "metadata" in p:
        pi["metadata"] = store.merge_metadata(pi.get("metadata"), p["metadata"])
    saved = store.save(row)
    previous = store.diff(before, saved)
    if previous:
        emit(
            "payment_intent.updated",
            saved,
            account=_event_account(req.account),
            previous_attributes=previous,
        )
    return saved


@route(
    "POST",
    "/v1/payment_intents/{intent}/confirm",
    params=PaymentIntentConfirmParams,
    publishable="payment_intent",
)
def confirm(req: Request) -> JSON:
    p = req.params
    if req.publishable:
        current = store.get(req.args["intent"], object_type="payment_intent", account=req.account)
        if current.get("confirmation_method") == "manual":
            raise invalid_request(
                "This PaymentIntent has confirmation_method=manual: it can only be confirmed "
                "from your server with your secret key.",
                code="payment_intent_unexpected_state",
            )
    pi, error = intent_confirm(
        req.args["intent"],
        account=req.account,
        payment_method=p.get("payment_method"),
        return_url=p.get("return_url"),
        off_session=_off_session(p.get("off_session")),
        setup_future_usage=p.get("setup_future_usage"),
    )
    _raise_if(error)
    return pi


class TestAuthenticationParams(TypedDict, total=False):
    """The sandbox's answer to a 3-D Secure challenge (not a Stripe API endpoint: it stands in
    for the bank's challenge page that Stripe.js shows in its modal)."""

    outcome: Literal["complete", "fail"]  # required (checked by the route)
    expand: list[str]


@route(
    "POST",
    "/v1/payment_intents/{intent}/test_authentication",
    params=TestAuthenticationParams,
    publishable="payment_intent",
)
def authentication_answer(req: Request) -> JSON:
    """The stand-in Stripe.js's in-page 3-D Secure challenge: ``complete`` charges the card,
    ``fail`` is the 400 ``payment_intent_authentication_failure`` (the hosted page's twin)."""
    if not req.params.get("outcome"):
        raise parameter_missing("outcome")
    intent_row(req.args["intent"], account=req.account)  # scoped to the caller's account
    pi, error = intent_authenticate(req.args["intent"], approve=req.params["outcome"] == "complete")
    _raise_if(error)
    return pi


@route("POST", "/v1/payment_intents/{intent}/capture", params=PaymentIntentCaptureParams)
def capture_route(req: Request) -> JSON:
    p = req.params
    row = intent_row(req.args["intent"], account=req.account)
    pi = row.data
    if pi["status"] != "requires_capture":
        raise _unexpected_state(pi, "capture")
    amount = int(p.get("amount_to_capture") or pi["amount_capturable"])
    if amount > pi["amount_capturable"] or amount <= 0:
        raise invalid_request(
            f"The amount to capture must be between 1 and {pi['amount_capturable']}.",
            param="amount_to_capture",
        )
    fee = None
    if p.get("application_fee_amount") is not None:
        fee = check_application_fee(
            p["application_fee_amount"],
            amount,
            account=req.account,
            destination=(pi.get("transfer_data") or {}).get("destination"),
        )
    elif pi.get("application_fee_amount") and int(pi["application_fee_amount"]) > amount:
        raise invalid_request(
            "The application fee amount must be less than or equal to the captured amount.",
            param="application_fee_amount",
        )
    if "metadata" in p:
        pi["metadata"] = store.merge_metadata(pi.get("metadata"), p["metadata"])
    return capture(row, pi["latest_charge"], amount, application_fee_amount=fee)


@route("POST", "/v1/payment_intents/{intent}/cancel", params=PaymentIntentCancelParams)
def cancel(req: Request) -> JSON:
    row = intent_row(req.args["intent"], account=req.account)
    return intent_cancel(row, reason=req.params.get("cancellation_reason"))


@route("GET", "/v1/payment_intents", params=PaymentIntentListParams)
def list_intents(req: Request) -> JSON:
    qs = store.queryset("payment_intent", account=req.account)
    if req.params.get("customer"):
        qs = qs.filter(data__customer=req.params["customer"])
    return store.list_response(qs, req.params, url="/v1/payment_intents")
