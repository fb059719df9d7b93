"""Charge attempts of a PaymentIntent: a card charged now (``_attempt``: succeeded or
declined, from ``sandbox.cards``' test numbers), a delayed debit (``_attempt_async``: SEPA,
settled by the clock job ``settle_async_due``), and ``capture`` (money movement through
``settlement.settle``, intent ``succeeded``, Checkout / invoice follow-ups)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

from sandbox import cards, clock, sepa, store
from sandbox.errors import StripeError, card_error
from sandbox.events import emit
from sandbox.ids import new_id, random_token
from sandbox.models import SandboxObject
from sandbox.resources.accounts import site_url
from sandbox.resources.payments.common import (
    JSON,
    _event_account,
    dispute_after_seconds,
    intent_row,
)
from sandbox.resources.payments.settlement import settle


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


AUTHORIZATION_VALIDITY = 7 * 24 * 3600  # an uncaptured card authorisation, as on Stripe


def authentication_required(number: str) -> cards.CardBehaviour:
    """An off-session charge of a card whose bank asks for 3D Secure: Stripe's soft decline."""
    return dataclasses.replace(
        cards.behaviour(number),
        requires_action=False,
        decline_code="authentication_required",
        error_code="authentication_required",
        message="Your card was declined. This transaction requires authentication.",
    )


def _attempt(
    row: SandboxObject,
    pm: JSON,
    number: str,
    *,
    three_d_secure: bool = False,
    behaviour: cards.CardBehaviour | None = None,
) -> tuple[JSON, StripeError | None]:
    """Charge the card: a charge object (succeeded or failed), the intent's new status, events.
    ``behaviour`` overrides the card's (an off-session ``authentication_required``)."""
    pi = row.data
    account = row.account
    behaviour = behaviour or cards.behaviour(number)
    declined = behaviour.decline_code is not None
    manual = pi["capture_method"] == "manual"
    capture_before = clock.now() + AUTHORIZATION_VALIDITY if manual and not declined else None
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
    if not declined and not manual:
        # Asynchronous capture (Stripe's default): ``charge.succeeded`` already says captured,
        # with no balance transaction, transfer or application fee yet; ``charge.updated``
        # names them once the charge settles (``capture``).
        charge.update(captured=True, amount_captured=pi["amount"])
    if capture_before is not None:
        charge["payment_method_details"]["card"]["capture_before"] = capture_before
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
        invoice_id = row.private.get("invoice")
        if invoice_id:
            from sandbox.resources import invoices

            invoices.intent_declined(invoice_id, error)
        return saved, error
    if pi.get("setup_future_usage"):
        _save_for_future(pi, pm["id"], account=account, authenticated=three_d_secure)
    if manual:
        pi["status"] = "requires_capture"
        pi["amount_capturable"] = pi["amount"]
        row.private["capture_before"] = capture_before
        saved = store.save(row)
        emit("charge.succeeded", charge, account=event_account)
        emit("payment_intent.amount_capturable_updated", saved, account=event_account)
        _after_success(row)
        return saved, None
    store.save(row)
    emit("charge.succeeded", charge, account=event_account)
    return capture(row, charge_id, pi["amount"], initial=True), None


def _save_for_future(pi: JSON, pm_id: str, *, account: str, authenticated: bool) -> None:
    """``setup_future_usage``: the card is set up for later payments and, when the intent has a
    customer, attached to it (``payment_method.attached``)."""
    from sandbox.resources import customers

    cards.mark_set_up(pm_id, authenticated=authenticated)
    if pi.get("customer"):
        customers.attach_payment_method(pm_id, pi["customer"], account=account)


def expire_authorizations() -> None:
    """Clock job: an authorisation not captured within 7 days lapses; the intent is canceled
    with ``cancellation_reason=automatic`` (``payment_intent.canceled``) and the uncaptured
    charge released (``charge.expired``), as on Stripe."""
    from sandbox.resources.payments.intents import intent_cancel

    due = store.queryset("payment_intent", account=None).filter(
        data__status="requires_capture", private__capture_before__lte=clock.now()
    )
    for pi_id in list(due.values_list("id", flat=True)):
        row = intent_row(pi_id, account=None)
        if row.data["status"] != "requires_capture":
            continue
        pi = intent_cancel(row, reason="automatic")
        if pi.get("latest_charge"):
            charge = store.get(pi["latest_charge"], object_type="charge")
            emit("charge.expired", charge, account=_event_account(row.account))


clock.register_job(expire_authorizations, name="sandbox.payments.expire_authorizations")


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
        charge_row.data.update(
            status="succeeded", paid=True, captured=True, amount_captured=pi["amount"]
        )
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
