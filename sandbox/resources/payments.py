"""PaymentIntents (``/v1/payment_intents``: create, retrieve, update, confirm, capture, cancel,
list) and Charges (``/v1/charges``: retrieve, update, list), with the money movement of a
successful charge.

A card's behaviour comes from ``sandbox.cards`` (Stripe's test numbers and ``pm_card_*``
tokens). Status transitions follow Stripe: ``requires_payment_method`` -> (confirm)
``requires_action`` (3D Secure cards) -> ``succeeded`` | ``requires_capture``
(``capture_method=manual``) -> (capture) ``succeeded``; a decline leaves the intent in
``requires_payment_method`` with ``last_payment_error`` and a failed charge; ``canceled``.

Money movement of a captured charge (``settle``), as Stripe's destination charges:
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

import hashlib
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from stripe.params import (
    ChargeListParams,
    ChargeRetrieveParams,
    ChargeUpdateParams,
    PaymentIntentCancelParams,
    PaymentIntentCaptureParams,
    PaymentIntentConfirmParams,
    PaymentIntentCreateParams,
    PaymentIntentListParams,
    PaymentIntentRetrieveParams,
    PaymentIntentUpdateParams,
)

from sandbox import cards, clock, sepa, store
from sandbox.errors import StripeError, card_error, invalid_request
from sandbox.events import emit
from sandbox.ids import new_id, random_token
from sandbox.models import SandboxObject
from sandbox.resources import balances
from sandbox.resources.accounts import site_url
from sandbox.router import Request, route

JSON = dict[str, Any]

APPLICATION_ID = "ca_" + hashlib.sha256(b"sandbox").hexdigest()[:24]
ZERO_DECIMAL = {
    "bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv",
    "xaf", "xof", "xpf",
}  # fmt: skip

PI_ACTIVE = ("requires_payment_method", "requires_confirmation", "requires_action")
CANCELABLE = (*PI_ACTIVE, "requires_capture", "processing")


def _event_account(account: str) -> str | None:
    return account or None


def dispute_after_seconds() -> int:
    return int(getattr(settings, "SANDBOX_DISPUTE_AFTER", 60))


def minimum_amount(currency: str) -> int:
    return 50 if currency not in ZERO_DECIMAL else 50 if currency == "jpy" else 1


# --- validation --------------------------------------------------------------------------------
def check_amount(amount: Any, currency: str, *, param: str = "amount") -> int:
    if amount is None:
        raise invalid_request(
            "Missing required param: amount.", param=param, code="parameter_missing"
        )
    value = int(amount)
    if value < minimum_amount(currency):
        raise invalid_request(
            "Amount must be at least 50 cents"
            if currency not in ZERO_DECIMAL
            else f"Amount must be at least {minimum_amount(currency)} {currency}",
            param=param,
            code="amount_too_small",
        )
    if value > 99999999:
        raise invalid_request(
            "Amount must be no more than $999,999.99", param=param, code="amount_too_large"
        )
    return value


def check_destination(destination: Any, *, param: str = "transfer_data[destination]") -> str:
    """An existing connected account with the transfers capability active, else Stripe's 400."""
    dest = str(destination or "")
    row = SandboxObject.objects.filter(pk=dest, object="account", account="").first()
    if row is None or row.deleted or row.private.get("deauthorized"):
        raise invalid_request(
            f"No such destination: '{dest}'", param=param, code="resource_missing"
        )
    capabilities = row.data.get("capabilities") or {}
    if capabilities.get("transfers") != "active":
        raise invalid_request(
            "Your destination account needs to have at least one of the following capabilities "
            "enabled: transfers, crypto_transfers, legacy_payments",
            param=param,
            code="insufficient_capabilities_for_transfer",
        )
    return dest


def check_application_fee(
    fee: Any, amount: int, *, account: str, destination: str | None
) -> int | None:
    if fee is None or fee == "":
        return None
    value = int(fee)
    if value < 0:
        raise invalid_request(
            "Invalid application_fee_amount: must be at least 0",
            param="application_fee_amount",
        )
    if not account and not destination:
        raise invalid_request(
            "Can only apply an application_fee_amount when the PaymentIntent is attempting a "
            "direct payment (using an OAuth key or Stripe-Account header) or destination "
            "payment (using `transfer_data[destination]`).",
            param="application_fee_amount",
        )
    if value > amount:
        raise invalid_request(
            "The application fee amount must be less than or equal to the amount of the "
            f"PaymentIntent ({amount}).",
            param="application_fee_amount",
        )
    return value


# --- PaymentIntent -----------------------------------------------------------------------------
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
        "payment_method_types": [str(t) for t in p.get("payment_method_types") or ["card"]],
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
    if p.get("payment_method"):
        pm = cards.resolve(str(p["payment_method"]), account=account)
        pi, _ = store.update(pi_id, {"payment_method": pm["id"]}, object_type="payment_intent")
        pi, _ = store.update(
            pi_id, {"status": "requires_confirmation"}, object_type="payment_intent"
        )
    emit("payment_intent.created", pi, account=_event_account(account))
    return pi


def intent_row(pi_id: str, *, account: str | None, for_update: bool = True) -> SandboxObject:
    return store.get_row(
        pi_id,
        object_type="payment_intent",
        account=account,
        for_update=for_update,
        name="payment_intent",
        param="intent",
    )


def _unexpected_state(pi: JSON, action: str) -> StripeError:
    return StripeError(
        f"This PaymentIntent's {action} could not be performed because it has a status of "
        f"{pi['status']}.",
        code="payment_intent_unexpected_state",
        extra={"payment_intent": pi},
    )


def intent_confirm(
    pi_id: str,
    *,
    account: str,
    payment_method: str | None = None,
    return_url: str | None = None,
) -> tuple[JSON, StripeError | None]:
    """Confirm: charge the payment method (or ask for 3D Secure). Returns the intent and the
    card error to answer with (None on success); the failed charge and events are written."""
    row = intent_row(pi_id, account=account)
    pi = row.data
    if pi["status"] not in PI_ACTIVE:
        raise invalid_request(
            f"You cannot confirm this PaymentIntent because it has a status of {pi['status']}.",
            code="payment_intent_unexpected_state",
        )
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


def _card_details(pm: JSON, amount: int, *, three_d_secure: bool) -> JSON:
    card = pm["card"]
    return {
        "card": {
            "amount_authorized": amount,
            "brand": card["brand"],
            "checks": card["checks"],
            "country": card["country"],
            "exp_month": card["exp_month"],
            "exp_year": card["exp_year"],
            "fingerprint": card["fingerprint"],
            "funding": card["funding"],
            "installments": None,
            "last4": card["last4"],
            "mandate": None,
            "network": card["brand"],
            "three_d_secure": (
                {
                    "authentication_flow": "challenge",
                    "electronic_commerce_indicator": "05",
                    "result": "authenticated",
                    "result_reason": None,
                    "transaction_id": random_token(16),
                    "version": "2.2.0",
                }
                if three_d_secure
                else None
            ),
            "wallet": None,
        },
        "type": "card",
    }


def _charge_json(pi: JSON, pm: JSON, charge_id: str, *, email: str | None) -> JSON:
    """The fields of a new charge of ``pi`` common to every payment method (the caller sets
    ``status``, ``paid``, ``outcome``, ``failure_*`` and ``payment_method_details``)."""
    return {
        "amount": pi["amount"],
        "amount_captured": 0,
        "amount_refunded": 0,
        "application": None,
        "application_fee": None,
        "application_fee_amount": pi.get("application_fee_amount"),
        "balance_transaction": None,
        "billing_details": store.billing_details(email=pi.get("receipt_email") or email),
        "calculated_statement_descriptor": "SANDBOX MARKETPLACE",
        "captured": False,
        "currency": pi["currency"],
        "customer": pi.get("customer"),
        "description": pi.get("description"),
        "disputed": False,
        "failure_balance_transaction": None,
        "failure_code": None,
        "failure_message": None,
        "fraud_details": {},
        "livemode": False,
        "metadata": dict(pi.get("metadata") or {}),
        "on_behalf_of": pi.get("on_behalf_of"),
        "outcome": None,
        "paid": False,
        "payment_intent": pi["id"],
        "payment_method": pm["id"],
        "payment_method_details": None,
        "receipt_email": pi.get("receipt_email"),
        "receipt_number": None,
        "receipt_url": site_url(f"/sandbox/receipts/{charge_id}/"),
        "refunded": False,
        "review": None,
        "shipping": None,
        "source": None,
        "source_transfer": None,
        "statement_descriptor": pi.get("statement_descriptor"),
        "statement_descriptor_suffix": pi.get("statement_descriptor_suffix"),
        "status": "pending",
        "transfer": None,
        "transfer_data": pi.get("transfer_data"),
        "transfer_group": pi.get("transfer_group"),
    }


def _attempt(
    row: SandboxObject, pm: JSON, number: str, *, three_d_secure: bool = False
) -> tuple[JSON, StripeError | None]:
    """Charge the card: a charge object (succeeded or failed), the intent's new status, events."""
    pi = row.data
    account = row.account
    behaviour = cards.behaviour(number)
    declined = behaviour.decline_code is not None
    manual = pi["capture_method"] == "manual"
    charge_id = new_id("ch")
    outcome = (
        {
            "advice_code": None,
            "network_advice_code": None,
            "network_decline_code": None,
            "network_status": "declined_by_network",
            "reason": behaviour.decline_code,
            "risk_level": "normal",
            "risk_score": 30,
            "seller_message": "The bank did not return any further details with this decline.",
            "type": "issuer_declined",
        }
        if declined
        else {
            "advice_code": None,
            "network_advice_code": None,
            "network_decline_code": None,
            "network_status": "approved_by_network",
            "reason": None,
            "risk_level": "normal",
            "risk_score": 20,
            "seller_message": "Payment complete.",
            "type": "authorized",
        }
    )
    charge = _charge_json(pi, pm, charge_id, email=row.private.get("email"))
    charge.update(
        failure_code=behaviour.error_code if declined else None,
        failure_message=behaviour.message if declined else None,
        outcome=outcome,
        paid=not declined,
        payment_method_details=_card_details(pm, pi["amount"], three_d_secure=three_d_secure),
        status="failed" if declined else "succeeded",
    )
    private: JSON = {"number": number}
    if behaviour.dispute and not declined:
        private["dispute_reason"] = behaviour.dispute
        private["dispute_at"] = clock.now() + dispute_after_seconds()
    if behaviour.available_immediately:
        private["available_immediately"] = True
    charge = store.create(
        "ch", "charge", charge, account=account, object_id=charge_id, private=private
    )
    pi["latest_charge"] = charge_id
    pi["next_action"] = None
    event_account = _event_account(account)
    if declined:
        error = card_error(
            behaviour.message,
            code=behaviour.error_code,
            decline_code=behaviour.decline_code,
            extra={"charge": charge_id},
        )
        pi["status"] = "requires_payment_method"
        pi["payment_method"] = None
        pi["last_payment_error"] = {
            "advice_code": None,
            "charge": charge_id,
            "code": behaviour.error_code,
            "decline_code": behaviour.decline_code,
            "doc_url": f"https://stripe.com/docs/error-codes/{behaviour.error_code.replace('_', '-')}",
            "message": behaviour.message,
            "network_advice_code": None,
            "network_decline_code": None,
            "payment_method": pm,
            "type": "card_error",
        }
        saved = store.save(row)
        error.extra["payment_intent"] = saved
        emit("charge.failed", charge, account=event_account)
        emit("payment_intent.payment_failed", saved, account=event_account)
        return saved, error
    if manual:
        pi["status"] = "requires_capture"
        pi["amount_capturable"] = pi["amount"]
        saved = store.save(row)
        emit("charge.succeeded", charge, account=event_account)
        emit("payment_intent.amount_capturable_updated", saved, account=event_account)
        _after_success(row)
        return saved, None
    store.save(row)
    emit("charge.succeeded", charge, account=event_account)
    return capture(row, charge_id, pi["amount"], initial=True), None


def _attempt_async(row: SandboxObject, pm: JSON) -> JSON:
    """A delayed payment method (SEPA Direct Debit): a ``pending`` charge, the intent
    ``processing`` (``charge.pending``, ``payment_intent.processing``); ``settle_async_due``
    finishes it on the sandbox clock after ``sepa.delay_seconds()``."""
    pi = row.data
    account = row.account
    charge_id = new_id("ch")
    due = clock.now() + sepa.delay_seconds()
    debit_date = datetime.fromtimestamp(due, tz=UTC).date().isoformat()
    charge = _charge_json(pi, pm, charge_id, email=row.private.get("email"))
    charge.update(
        paid=False,
        status="pending",
        outcome={
            "advice_code": None,
            "network_advice_code": None,
            "network_decline_code": None,
            "network_status": "approved_by_network",
            "reason": None,
            "risk_level": "not_assessed",
            "seller_message": "Payment complete.",
            "type": "authorized",
        },
        billing_details=dict(pm["billing_details"]),
        payment_method_details=sepa.charge_details(
            pm, mandate=new_id("mandate"), expected_debit_date=debit_date
        ),
    )
    charge = store.create("ch", "charge", charge, account=account, object_id=charge_id)
    pi.update(
        latest_charge=charge_id,
        next_action=None,
        status="processing",
        payment_method=pm["id"],
        payment_method_types=sorted({*pi.get("payment_method_types", []), "sepa_debit"}),
    )
    row.private["async_due_at"] = due
    saved = store.save(row)
    event_account = _event_account(account)
    emit("charge.pending", charge, account=event_account)
    emit("payment_intent.processing", saved, account=event_account)
    _after_success(row)  # Checkout: the session completes with payment_status "unpaid"
    return saved


def settle_async_due() -> None:
    """Clock job: ``processing`` intents whose delayed debit is due succeed (charge
    ``succeeded``, then the same capture and money movement as a card) or fail (charge
    ``failed``, intent back to ``requires_payment_method``, no money moves)."""
    now = clock.now()
    due = store.queryset("payment_intent", account=None).filter(
        data__status="processing", private__async_due_at__lte=now
    )
    for pi_id in list(due.values_list("id", flat=True)):
        row = intent_row(pi_id, account=None)
        if row.data["status"] != "processing":
            continue
        row.private.pop("async_due_at", None)
        pi = row.data
        event_account = _event_account(row.account)
        charge_row = store.get_row(pi["latest_charge"], object_type="charge", for_update=True)
        if sepa.outcome(pi["payment_method"]) == sepa.FAILS:
            code, message = sepa.FAILURE
            charge_row.data.update(status="failed", failure_code=code, failure_message=message)
            charge_row.data["outcome"].update(
                network_status="declined_by_network",
                reason=code,
                seller_message="The bank returned the debit.",
                type="issuer_declined",
            )
            charge = store.save(charge_row)
            pm = store.get(pi["payment_method"], object_type="payment_method")
            pi.update(
                status="requires_payment_method",
                payment_method=None,
                last_payment_error={
                    "charge": charge["id"],
                    "code": code,
                    "doc_url": f"https://stripe.com/docs/error-codes/{code.replace('_', '-')}",
                    "message": message,
                    "payment_method": pm,
                    "type": "invalid_request_error",
                },
            )
            saved = store.save(row)
            emit("charge.failed", charge, account=event_account)
            emit("payment_intent.payment_failed", saved, account=event_account)
            session_id = row.private.get("checkout_session")
            if session_id:
                from sandbox.resources import checkout

                checkout.async_payment_failed(session_id)
            continue
        charge_row.data.update(status="succeeded", paid=True)
        charge = store.save(charge_row)
        store.save(row)
        emit("charge.succeeded", charge, account=event_account)
        capture(row, charge["id"], pi["amount"], initial=True)


clock.register_job(settle_async_due, name="sandbox.payments.settle_async_due")


def capture(
    row: SandboxObject,
    charge_id: str,
    amount: int,
    *,
    application_fee_amount: int | None = None,
    initial: bool = False,
) -> JSON:
    """Capture ``amount`` of the charge: money movement, intent ``succeeded``."""
    pi = row.data
    account = row.account
    charge_row = store.get_row(charge_id, object_type="charge", for_update=True)
    before = dict(charge_row.data)
    if application_fee_amount is not None:
        pi["application_fee_amount"] = application_fee_amount
        charge_row.data["application_fee_amount"] = application_fee_amount
    charge_row.data["captured"] = True
    charge_row.data["amount_captured"] = amount
    if amount < charge_row.data["amount"]:
        # The uncaptured remainder is released: Stripe shows it as refunded.
        charge_row.data["amount_refunded"] = charge_row.data["amount"] - amount
    settle(charge_row, pi)
    charge = store.save(charge_row)
    pi["status"] = "succeeded"
    pi["amount_capturable"] = 0
    pi["amount_received"] = amount
    saved = store.save(row)
    event_account = _event_account(account)
    if initial:
        # The charge.succeeded event went out before settlement; tell about the new links.
        emit(
            "charge.updated",
            charge,
            account=event_account,
            previous_attributes=store.diff(before, charge),
        )
    else:
        emit("charge.captured", charge, account=event_account)
    emit("payment_intent.succeeded", saved, account=event_account)
    _after_success(row)
    return saved


def _after_success(row: SandboxObject) -> None:
    invoice_id = row.private.get("invoice")
    if invoice_id and row.data["status"] == "succeeded":
        from sandbox.resources import subscriptions

        subscriptions.invoice_paid(invoice_id, row.data)
    session_id = row.private.get("checkout_session")
    if session_id:
        from sandbox.resources import checkout

        checkout.payment_succeeded(session_id, row.data)


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


# --- routes: PaymentIntents --------------------------------------------------------------------
def _raise_if(error: StripeError | None) -> None:
    if error is not None:
        raise error


@route("POST", "/v1/payment_intents", params=PaymentIntentCreateParams)
def create(req: Request) -> JSON:
    p = req.params
    if p.get("confirm") and not p.get("payment_method"):
        raise invalid_request(
            "You cannot confirm this PaymentIntent because it's missing a payment method.",
            param="payment_method",
            code="payment_intent_unexpected_state",
        )
    pi = intent_create(p, account=req.account)
    if p.get("confirm"):
        pi, error = intent_confirm(pi["id"], account=req.account, return_url=p.get("return_url"))
        _raise_if(error)
    return pi


@route("GET", "/v1/payment_intents/{intent}", params=PaymentIntentRetrieveParams)
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
    if p.get("payment_method"):
        pi["payment_method"] = cards.resolve(str(p["payment_method"]), account=req.account)["id"]
    for key in ("description", "receipt_email", "transfer_group", "statement_descriptor"):
        if key in p:
            pi[key] = p[key] or None
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


@route("POST", "/v1/payment_intents/{intent}/confirm", params=PaymentIntentConfirmParams)
def confirm(req: Request) -> JSON:
    p = req.params
    pi, error = intent_confirm(
        req.args["intent"],
        account=req.account,
        payment_method=p.get("payment_method"),
        return_url=p.get("return_url"),
    )
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


@route("GET", "/v1/payment_intents", params=PaymentIntentListParams)
def list_intents(req: Request) -> JSON:
    qs = store.queryset("payment_intent", account=req.account)
    if req.params.get("customer"):
        qs = qs.filter(data__customer=req.params["customer"])
    return store.list_response(qs, req.params, url="/v1/payment_intents")


# --- routes: Charges ---------------------------------------------------------------------------
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
