"""Invoices of subscriptions (``/v1/invoices``), their lines, pending invoice items
(prorations) and the preview (``POST /v1/invoices/create_preview``).

An invoice is built from a subscription: one line per licensed item for the coming period, one
line per metered item with the usage of the period that ended (``sandbox.resources.billing_meters``)
and the customer's pending invoice items (prorations, ``proration=true``). It is created as a
``draft`` (``invoice.created``); a subscription's first invoice is finalized at once, a renewal
one hour later (``automatically_finalizes_at``), as on Stripe. Finalizing applies the customer's
credit balance, makes the invoice ``open`` (``invoice.finalized``) and creates the PaymentIntent
that pays it: a destination charge when the subscription has ``transfer_data`` (amount =
``amount_due``, ``application_fee_amount`` = ``application_fee_percent`` of it, rounded half up).
An invoice of zero is ``paid`` on finalization; a negative total goes to the customer's balance.

Failed payments are retried on a fixed schedule (``SANDBOX_BILLING_RETRY_DAYS``, days after the
previous attempt: Stripe's Smart Retries approximated); after the last attempt the subscription
ends as ``SANDBOX_BILLING_AFTER_RETRIES`` says (``cancel``, ``unpaid`` or ``past_due``, the three
choices of Stripe's dashboard). Events: ``invoice.created / finalized / paid /
payment_succeeded / payment_failed / payment_action_required / upcoming / voided /
marked_uncollectible``, ``invoiceitem.created``.
"""

from __future__ import annotations

import contextvars
import copy
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.conf import settings
from stripe.params import (
    InvoiceCreatePreviewParams,
    InvoiceFinalizeInvoiceParams,
    InvoiceListLinesParams,
    InvoiceListParams,
    InvoiceMarkUncollectibleParams,
    InvoicePaymentListParams,
    InvoicePaymentRetrieveParams,
    InvoicePayParams,
    InvoiceRetrieveParams,
    InvoiceVoidInvoiceParams,
)

from sandbox import cards, clock, display, store
from sandbox.errors import StripeError, invalid_request
from sandbox.events import emit
from sandbox.ids import new_id, random_token
from sandbox.models import SandboxObject
from sandbox.resources import payments
from sandbox.router import Request, route

JSON = dict[str, Any]
FINALIZE_DELAY = 3600  # a renewal invoice stays a draft for an hour, as on Stripe
DAY = 86400


# --- settings -----------------------------------------------------------------------------------
def retry_days() -> list[int]:
    """Days after the previous failed attempt at which a renewal invoice is tried again."""
    value = getattr(settings, "SANDBOX_BILLING_RETRY_DAYS", None)
    return [int(v) for v in (value if value is not None else (3, 5, 7))]


def after_retries() -> str:
    """What happens to a subscription when its invoice's last retry fails: ``cancel``,
    ``unpaid`` or ``past_due`` (Stripe's dashboard: cancel / mark unpaid / leave past-due)."""
    return str(getattr(settings, "SANDBOX_BILLING_AFTER_RETRIES", "cancel"))


def upcoming_days() -> int:
    """``invoice.upcoming`` is sent this many days before a renewal (0: never)."""
    return int(getattr(settings, "SANDBOX_BILLING_UPCOMING_DAYS", 7))


def fee_for(amount: int, percent: float | None) -> int | None:
    if percent is None:
        return None
    value = Decimal(str(amount)) * Decimal(str(percent)) / Decimal(100)
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _round(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _event_account(account: str) -> str | None:
    return account or None


def _sub_id(invoice: JSON) -> str | None:
    parent = invoice.get("parent") or {}
    details = parent.get("subscription_details") or {}
    return details.get("subscription")


# --- lines --------------------------------------------------------------------------------------
def _pricing(price: JSON) -> JSON:
    return {
        "price_details": {"price": price["id"], "product": price["product"]},
        "type": "price_details",
        "unit_amount_decimal": str(price.get("unit_amount_decimal") or price.get("unit_amount")),
    }


def product_name(price: JSON) -> str:
    row = SandboxObject.objects.filter(pk=price.get("product")).first()
    return str(row.data.get("name")) if row is not None else "subscription"


def _line(
    *,
    sub: JSON,
    item: JSON,
    amount: int,
    quantity: int,
    period: tuple[int, int],
    description: str,
    invoice_item: str | None = None,
    proration: bool = False,
) -> JSON:
    return {
        "id": new_id("il"),
        "object": "line_item",
        "amount": amount,
        "currency": sub["currency"],
        "description": description,
        "discount_amounts": [],
        "discountable": not proration,
        "discounts": [],
        "invoice": None,
        "livemode": False,
        "metadata": dict(sub.get("metadata") or {}) if not invoice_item else {},
        "parent": {
            "invoice_item_details": None,
            "subscription_item_details": {
                "invoice_item": invoice_item,
                "proration": proration,
                "proration_details": {"credited_items": None},
                "subscription": sub["id"],
                "subscription_item": item["id"],
            },
            "type": "subscription_item_details",
        },
        "period": {"end": period[1], "start": period[0]},
        "pretax_credit_amounts": [],
        "pricing": _pricing(item["price"]),
        "quantity": quantity,
        "quantity_decimal": str(quantity),
        "subscription": sub["id"],
        "subtotal": amount,
        "taxes": [],
    }


def period_lines(
    sub: JSON, *, period: tuple[int, int], usage: tuple[int, int] | None, licensed: bool = True
) -> list[JSON]:
    """The lines of a subscription's invoice: licensed items for ``period`` (in advance; none
    when ``licensed`` is false), metered items for the usage during ``usage`` (in arrears;
    none when ``usage`` is None)."""
    from sandbox.resources import billing_meters

    lines = []
    for item in sub["items"]["data"]:
        price = item["price"]
        recurring = price.get("recurring") or {}
        name = product_name(price)
        if recurring.get("usage_type") == "metered":
            if usage is None:
                continue
            quantity = billing_meters.usage_for(
                recurring.get("meter"), sub["customer"], start=usage[0], end=usage[1]
            )
            amount = int(price["unit_amount"] or 0) * quantity
            lines.append(
                _line(
                    sub=sub,
                    item=item,
                    amount=amount,
                    quantity=quantity,
                    period=usage,
                    description=f"{name} (usage: {quantity} x "
                    f"{display.money(int(price['unit_amount'] or 0), sub['currency'])})",
                )
            )
            continue
        if not licensed:
            continue
        quantity = int(item.get("quantity") or 1)
        trial = sub.get("status") == "trialing" and period[0] < int(sub.get("trial_end") or 0)
        lines.append(
            _line(
                sub=sub,
                item=item,
                amount=0 if trial else int(price["unit_amount"] or 0) * quantity,
                quantity=quantity,
                period=period,
                description=f"Trial period for {name}"
                if trial
                else f"{quantity} x {name} (at "
                f"{display.money(int(price['unit_amount'] or 0), sub['currency'])} / "
                f"{recurring.get('interval', 'month')})",
            )
        )
    return lines


def proration_amounts(
    sub: JSON, old_item: JSON | None, new_item: JSON | None, *, at: int
) -> list[tuple[JSON, int, str]]:
    """The proration invoice items of replacing ``old_item`` by ``new_item`` at ``at``:
    ``(item, amount, description)``; amounts are the price x quantity x the share of the
    current period left (seconds), rounded half up, as Stripe prorates to the second."""
    out: list[tuple[JSON, int, str]] = []
    for item, sign in ((old_item, -1), (new_item, 1)):
        if item is None or (item["price"].get("recurring") or {}).get("usage_type") == "metered":
            continue
        start, end = int(item["current_period_start"]), int(item["current_period_end"])
        if end <= start or at >= end:
            continue
        share = Decimal(end - max(at, start)) / Decimal(end - start)
        full = int(item["price"]["unit_amount"] or 0) * int(item.get("quantity") or 1)
        amount = sign * _round(Decimal(full) * share)
        if amount == 0:
            continue
        word = "Unused" if sign < 0 else "Remaining"
        when = display.date(at)
        out.append((item, amount, f"{word} time on {product_name(item['price'])} after {when}"))
    return out


def invoice_item_create(
    sub: JSON, item: JSON, amount: int, description: str, *, at: int, account: str
) -> JSON:
    """A pending proration invoice item of the subscription's customer (``invoiceitem.created``)."""
    quantity = int(item.get("quantity") or 1)
    ii = store.create(
        "ii",
        "invoiceitem",
        {
            "amount": amount,
            "currency": sub["currency"],
            "customer": sub["customer"],
            "customer_account": None,
            "date": at,
            "description": description,
            "discountable": False,
            "discounts": [],
            "invoice": None,
            "livemode": False,
            "metadata": {},
            "net_amount": amount,
            "parent": {
                "subscription_details": {
                    "subscription": sub["id"],
                    "subscription_item": item["id"],
                },
                "type": "subscription_details",
            },
            "period": {"end": int(item["current_period_end"]), "start": at},
            "pricing": _pricing(item["price"]),
            "proration": True,
            "proration_details": {"credited_items": None, "discount_amounts": []},
            "quantity": quantity,
            "quantity_decimal": str(quantity),
            "tax_rates": [],
            "test_clock": None,
        },
        account=account,
        private={"subscription_item": copy.deepcopy(item)},
        created=at,  # an invoice item has `date`, no `created`
    )
    emit("invoiceitem.created", ii, account=_event_account(account))
    return ii


def pending_items(sub: JSON, *, account: str | None) -> list[SandboxObject]:
    qs = store.queryset("invoiceitem", account=account).filter(
        data__customer=sub["customer"],
        data__invoice=None,
        data__parent__subscription_details__subscription=sub["id"],
    )
    return list(qs.order_by("created", "seq"))


def item_line(sub: JSON, ii: JSON, item: JSON) -> JSON:
    return _line(
        sub=sub,
        item=item,
        amount=int(ii["amount"]),
        quantity=int(ii.get("quantity") or 1),
        period=(int(ii["period"]["start"]), int(ii["period"]["end"])),
        description=str(ii["description"]),
        invoice_item=ii["id"],
        proration=bool(ii.get("proration")),
    )


# --- invoices -----------------------------------------------------------------------------------
def _invoice_fields(
    sub: JSON,
    *,
    invoice_id: str,
    reason: str,
    lines: list[JSON],
    period: tuple[int, int],
    customer: JSON | None,
) -> JSON:
    now = clock.now()
    for line in lines:
        line["invoice"] = invoice_id
    total = sum(int(line["amount"]) for line in lines)
    return {
        "id": invoice_id,
        "object": "invoice",
        "account_country": "US",
        "account_name": "Sandbox platform",
        "account_tax_ids": None,
        "amount_due": max(total, 0),
        "amount_overpaid": 0,
        "amount_paid": 0,
        "amount_paid_off_stripe": 0,
        "amount_remaining": max(total, 0),
        "amount_shipping": 0,
        "application": None,
        "attempt_count": 0,
        "attempted": False,
        "auto_advance": True,
        "automatic_tax": {
            "disabled_reason": None,
            "enabled": False,
            "liability": None,
            "provider": None,
            "status": None,
        },
        "automatically_finalizes_at": None,
        "billing_reason": reason,
        "collection_method": sub.get("collection_method") or "charge_automatically",
        "created": now,
        "currency": sub["currency"],
        "custom_fields": None,
        "customer": sub["customer"],
        "customer_account": None,
        "customer_address": (customer or {}).get("address"),
        "customer_email": (customer or {}).get("email"),
        "customer_name": (customer or {}).get("name"),
        "customer_phone": (customer or {}).get("phone"),
        "customer_shipping": (customer or {}).get("shipping"),
        "customer_tax_exempt": (customer or {}).get("tax_exempt") or "none",
        "customer_tax_ids": [],
        "default_payment_method": None,
        "default_source": None,
        "default_tax_rates": [],
        "description": None,
        "discounts": [],
        "due_date": None,
        "effective_at": None,
        "ending_balance": None,
        "footer": None,
        "from_invoice": None,
        "hosted_invoice_url": None,
        "invoice_pdf": None,
        "issuer": {"type": "self"},
        "last_finalization_error": None,
        "latest_revision": None,
        "lines": store.list_of(lines, url=f"/v1/invoices/{invoice_id}/lines"),
        "livemode": False,
        "metadata": {},
        "next_payment_attempt": None,
        "number": None,
        "on_behalf_of": sub.get("on_behalf_of"),
        "parent": {
            "quote_details": None,
            "subscription_details": {
                "metadata": dict(sub.get("metadata") or {}),
                "subscription": sub["id"],
            },
            "type": "subscription_details",
        },
        "payment_settings": {
            "default_mandate": None,
            "payment_method_options": None,
            "payment_method_types": None,
        },
        "period_end": period[1],
        "period_start": period[0],
        "post_payment_credit_notes_amount": 0,
        "pre_payment_credit_notes_amount": 0,
        "receipt_number": None,
        "rendering": None,
        "shipping_cost": None,
        "shipping_details": None,
        "starting_balance": 0,
        "statement_descriptor": None,
        "status": "draft",
        "status_details": None,
        "status_transitions": {
            "finalized_at": None,
            "marked_uncollectible_at": None,
            "paid_at": None,
            "voided_at": None,
        },
        "subtotal": total,
        "subtotal_excluding_tax": total,
        "test_clock": None,
        "threshold_reason": None,
        "total": total,
        "total_discount_amounts": [],
        "total_excluding_tax": total,
        "total_pretax_credit_amounts": [],
        "total_taxes": [],
        "webhooks_delivered_at": None,
    }


def _customer(customer_id: str) -> JSON | None:
    row = SandboxObject.objects.filter(pk=customer_id, object="customer").first()
    return copy.deepcopy(row.data) if row is not None else None


def build(
    sub: JSON,
    *,
    reason: str,
    period: tuple[int, int],
    usage: tuple[int, int] | None,
    invoice_period: tuple[int, int],
    pending: list[tuple[JSON, JSON]],
    invoice_id: str,
    licensed: bool = True,
) -> JSON:
    """An invoice's JSON (not stored): ``pending`` is ``[(invoice item, its subscription
    item)]`` placed first, as Stripe lists prorations before the new period."""
    lines = [item_line(sub, ii, item) for ii, item in pending]
    lines += period_lines(sub, period=period, usage=usage, licensed=licensed)
    return _invoice_fields(
        sub,
        invoice_id=invoice_id,
        reason=reason,
        lines=lines,
        period=invoice_period,
        customer=_customer(sub["customer"]),
    )


def invoice_create(
    sub_id: str,
    *,
    period_start: int,
    period_end: int,
    reason: str,
    usage: tuple[int, int] | None = None,
    invoice_period: tuple[int, int] | None = None,
    finalize_at: int | None = None,
    licensed: bool = True,
) -> JSON:
    """Store a subscription invoice (draft, ``invoice.created``) with the pending invoice
    items of the subscription; finalize it now, or at ``finalize_at`` (the clock job)."""
    row = store.get_row(sub_id, object_type="subscription", for_update=True)
    sub = row.data
    invoice_id = new_id("in")
    items = pending_items(sub, account=row.account)
    pending = [(copy.deepcopy(ii.data), ii.private["subscription_item"]) for ii in items]
    data = build(
        sub,
        reason=reason,
        period=(period_start, period_end),
        usage=usage,
        invoice_period=invoice_period or (period_start, period_start),
        pending=pending,
        invoice_id=invoice_id,
        licensed=licensed,
    )
    token = random_token(24)
    data["hosted_invoice_url"] = hosted_url(invoice_id, token)
    if finalize_at is not None:
        data["automatically_finalizes_at"] = finalize_at
    fields = {k: v for k, v in data.items() if k not in ("id", "object")}
    invoice = store.create(
        "in",
        "invoice",
        fields,
        account=row.account,
        object_id=invoice_id,
        private={"token": token},
    )
    for ii in items:
        ii.data["invoice"] = invoice_id
        store.save(ii)
    sub["latest_invoice"] = invoice_id
    store.save(row)
    emit("invoice.created", invoice, account=_event_account(row.account))
    if finalize_at is None:
        return invoice_finalize(invoice_id)
    return invoice


def hosted_url(invoice_id: str, token: str) -> str:
    from sandbox.resources.accounts import site_url

    return site_url(f"/sandbox/invoice/{invoice_id}/{token}/")


def invoice_finalize(invoice_id: str) -> JSON:
    """``draft`` -> ``open`` (or ``paid`` when nothing is due): the customer's balance applied,
    a number, the PaymentIntent (destination charge) for ``amount_due``."""
    inv_row = store.get_row(invoice_id, object_type="invoice", for_update=True)
    invoice = inv_row.data
    if invoice["status"] != "draft":
        raise invalid_request(
            "This invoice is already finalized, you can't re-finalize a non-draft invoice.",
            code="invoice_not_editable",
        )
    now = clock.now()
    account = inv_row.account
    total = int(invoice["total"])
    customer_row = (
        SandboxObject.objects.select_for_update()
        .filter(pk=invoice["customer"], object="customer")
        .first()
    )
    starting = int((customer_row.data.get("balance") if customer_row else 0) or 0)
    applied = total + starting
    invoice["starting_balance"] = starting
    invoice["amount_due"] = max(applied, 0)
    invoice["amount_remaining"] = max(applied, 0)
    invoice["ending_balance"] = min(applied, 0)
    if customer_row is not None and starting != invoice["ending_balance"]:
        before = {"balance": starting}
        customer_row.data["balance"] = invoice["ending_balance"]
        customer = store.save(customer_row)
        emit(
            "customer.updated",
            customer,
            account=_event_account(account),
            previous_attributes=before,
        )
    invoice["status"] = "open"
    invoice["number"] = f"SBX-{invoice_id[-8:].upper()}"
    invoice["effective_at"] = now
    invoice["automatically_finalizes_at"] = None
    invoice["status_transitions"]["finalized_at"] = now
    invoice["invoice_pdf"] = None
    sub = store.get(_sub_id(invoice) or "", object_type="subscription")
    if invoice["amount_due"] > 0:
        fields: JSON = {
            "amount": invoice["amount_due"],
            "currency": invoice["currency"],
            "customer": invoice["customer"],
            "description": "Subscription creation"
            if invoice["billing_reason"] == "subscription_create"
            else "Subscription update",
            "metadata": {},
        }
        if sub.get("transfer_data"):
            fields["transfer_data"] = {"destination": sub["transfer_data"]["destination"]}
            fields["application_fee_amount"] = fee_for(
                invoice["amount_due"], sub.get("application_fee_percent")
            )
        elif sub.get("application_fee_percent") is not None and account:
            fields["application_fee_amount"] = fee_for(
                invoice["amount_due"], sub.get("application_fee_percent")
            )
        pi = payments.intent_create(fields, account=account)
        pi_row = payments.intent_row(pi["id"], account=account)
        pi_row.private["invoice"] = invoice_id
        store.save(pi_row)
        inv_row.private["payment_intent"] = pi["id"]
        inv_row.private["payment_id"] = new_id("inpay")
        invoice["next_payment_attempt"] = (
            now if invoice["collection_method"] == "charge_automatically" else None
        )
    saved = store.save(inv_row)
    emit("invoice.finalized", saved, account=_event_account(account))
    if invoice["amount_due"] == 0:
        _mark_paid(invoice_id)
        return store.get(invoice_id)
    return saved


def payment_intent_of(invoice_id: str) -> str | None:
    row = store.get_row(invoice_id, object_type="invoice")
    value = row.private.get("payment_intent")
    return str(value) if value else None


def default_payment_method(sub: JSON) -> str | None:
    if sub.get("default_payment_method"):
        return str(sub["default_payment_method"])
    customer = _customer(sub["customer"]) or {}
    settings_ = customer.get("invoice_settings") or {}
    value = settings_.get("default_payment_method")
    return str(value) if value else None


def invoice_pay(
    invoice_id: str,
    *,
    payment_method: str | None = None,
    off_session: bool = True,
    return_url: str | None = None,
) -> tuple[JSON, StripeError | None]:
    """Attempt to pay an open invoice with the subscription's default card (or the given one).
    Off-session, a card asking for 3-D Secure leaves the PaymentIntent ``requires_action``
    (``invoice.payment_action_required``), and the attempt counts as failed."""
    inv_row = store.get_row(invoice_id, object_type="invoice", for_update=True)
    invoice = inv_row.data
    if invoice["status"] != "open":
        raise invalid_request(
            f"Invoice is already {invoice['status']}"
            if invoice["status"] == "paid"
            else f"You can only pay an open invoice (this one is {invoice['status']}).",
            code="invoice_not_open" if invoice["status"] != "paid" else "invoice_already_paid",
        )
    sub = store.get(_sub_id(invoice) or "", object_type="subscription")
    pm = payment_method or default_payment_method(sub)
    pi_id = inv_row.private["payment_intent"]
    invoice["attempt_count"] = int(invoice["attempt_count"]) + 1
    invoice["attempted"] = True
    store.save(inv_row)
    if not pm:
        missing = StripeError(
            "This customer has no attached payment source or default payment method. Please "
            "consider adding a default payment method.",
            code="resource_missing",
            keep_changes=True,
        )
        invoice_failed(invoice_id, missing)
        return store.get(invoice_id), missing
    pi_row = payments.intent_row(pi_id, account=inv_row.account)
    token = _ATTEMPTING.set(True)
    try:
        return _invoice_attempt(inv_row, pi_row, pm, return_url=return_url, off_session=off_session)
    finally:
        _ATTEMPTING.reset(token)


# Set while an attempt of ``invoice_pay`` confirms the invoice's PaymentIntent: that attempt is
# counted and reported here, so the payments module must not count it again.
_ATTEMPTING: contextvars.ContextVar[bool] = contextvars.ContextVar("attempting", default=False)


def _invoice_attempt(
    inv_row: SandboxObject,
    pi_row: SandboxObject,
    pm: str,
    *,
    return_url: str | None,
    off_session: bool,
) -> tuple[JSON, StripeError | None]:
    invoice_id, pi_id = inv_row.id, pi_row.id
    if pi_row.data["status"] == "requires_action":
        # a new attempt (retry, or another card): start from the payment method again
        pi_row.data["status"] = "requires_payment_method"
        pi_row.data["next_action"] = None
        store.save(pi_row)
    pi, error = payments.intent_confirm(
        pi_id, account=inv_row.account, payment_method=pm, return_url=return_url
    )
    if error is None and pi["status"] == "requires_action":
        if off_session:
            error = StripeError(
                "Your card was declined. This transaction requires authentication.",
                code="authentication_required",
                status=402,
                type="card_error",
                decline_code="authentication_required",
                keep_changes=True,
            )
        saved = store.get(invoice_id)
        emit("invoice.payment_action_required", saved, account=_event_account(inv_row.account))
        if error is not None:
            invoice_failed(invoice_id, error, emit_failed=False)
        return store.get(invoice_id), error
    if error is not None:
        invoice_failed(invoice_id, error)
    return store.get(invoice_id), error


def _mark_paid(invoice_id: str, *, out_of_band: bool = False) -> None:
    inv_row = store.get_row(invoice_id, object_type="invoice", for_update=True)
    invoice = inv_row.data
    if invoice["status"] == "paid":
        return
    now = clock.now()
    paid = int(invoice["amount_due"])
    invoice.update(
        amount_paid=0 if out_of_band else paid,
        amount_paid_off_stripe=paid if out_of_band else 0,
        amount_remaining=0,
        next_payment_attempt=None,
        status="paid",
        attempted=invoice["attempted"] or paid == 0,
    )
    invoice["status_transitions"]["paid_at"] = now
    if inv_row.private.get("payment_intent"):
        inv_row.private["paid_at"] = now
    saved = store.save(inv_row)
    account = _event_account(inv_row.account)
    emit("invoice.paid", saved, account=account)
    emit("invoice.payment_succeeded", saved, account=account)
    from sandbox.resources import subscriptions

    subscriptions.after_invoice_paid(saved)


def invoice_paid(invoice_id: str, pi: JSON) -> None:
    """The invoice's PaymentIntent succeeded (called by the payments module)."""
    _mark_paid(invoice_id)


def intent_declined(invoice_id: str, error: StripeError) -> None:
    """The invoice's PaymentIntent was confirmed directly (Stripe.js with the invoice's
    ``confirmation_secret``, a ``default_incomplete`` subscription's first invoice) and the card
    was declined: Stripe counts it as an attempt of the invoice (``attempt_count``) and sends
    ``invoice.payment_failed``, as for any failed invoice payment."""
    if _ATTEMPTING.get():
        return  # invoice_pay's own attempt: counted and reported there
    inv_row = store.get_row(invoice_id, object_type="invoice", for_update=True)
    invoice = inv_row.data
    if invoice["status"] != "open":
        return
    invoice["attempt_count"] = int(invoice["attempt_count"]) + 1
    invoice["attempted"] = True
    store.save(inv_row)
    invoice_failed(invoice_id, error)


def invoice_failed(invoice_id: str, error: StripeError, *, emit_failed: bool = True) -> None:
    """A failed attempt: ``invoice.payment_failed``, the next attempt on the retry schedule
    (renewals only), and the subscription's status (``past_due``, then the end state)."""
    inv_row = store.get_row(invoice_id, object_type="invoice", for_update=True)
    invoice = inv_row.data
    attempts = int(invoice["attempt_count"])
    renewal = invoice["billing_reason"] != "subscription_create"
    schedule = retry_days()
    if renewal and attempts <= len(schedule):
        invoice["next_payment_attempt"] = clock.now() + schedule[attempts - 1] * DAY
    else:
        invoice["next_payment_attempt"] = None
    saved = store.save(inv_row)
    if emit_failed:
        emit("invoice.payment_failed", saved, account=_event_account(inv_row.account))
    from sandbox.resources import subscriptions

    subscriptions.after_invoice_failed(saved, last=renewal and attempts > len(schedule))


def invoice_void(invoice_id: str, *, account: str | None = None) -> JSON:
    row = store.get_row(invoice_id, object_type="invoice", account=account, for_update=True)
    invoice = row.data
    if invoice["status"] not in ("open", "uncollectible"):
        raise invalid_request(
            f"You can only void an open or uncollectible invoice (this one is {invoice['status']}).",
            code="invoice_not_editable" if invoice["status"] == "draft" else None,
        )
    _cancel_intent(row)
    invoice.update(status="void", next_payment_attempt=None, amount_remaining=0)
    invoice["status_transitions"]["voided_at"] = clock.now()
    saved = store.save(row)
    emit("invoice.voided", saved, account=_event_account(row.account))
    return saved


def invoice_mark_uncollectible(invoice_id: str, *, account: str | None = None) -> JSON:
    row = store.get_row(invoice_id, object_type="invoice", account=account, for_update=True)
    invoice = row.data
    if invoice["status"] != "open":
        raise invalid_request(
            f"You can only mark an open invoice as uncollectible (this one is {invoice['status']}).",
        )
    invoice.update(status="uncollectible", next_payment_attempt=None)
    invoice["status_transitions"]["marked_uncollectible_at"] = clock.now()
    saved = store.save(row)
    emit("invoice.marked_uncollectible", saved, account=_event_account(row.account))
    return saved


def _cancel_intent(inv_row: SandboxObject) -> None:
    pi_id = inv_row.private.get("payment_intent")
    if not pi_id:
        return
    pi_row = payments.intent_row(pi_id, account=inv_row.account)
    if pi_row.data["status"] in payments.CANCELABLE:
        payments.intent_cancel(pi_row, reason="void_invoice")


def open_draft(invoice_id: str) -> None:
    """A renewal draft reached its finalization time: finalize and attempt payment (unless the
    subscription's collection is paused, which decides what becomes of it)."""
    row = store.get_row(invoice_id, object_type="invoice", for_update=True)
    if row.data["status"] != "draft":
        return
    sub = store.get(_sub_id(row.data) or "", object_type="subscription")
    pause = sub.get("pause_collection") or None
    if pause and pause.get("behavior") == "keep_as_draft":
        row.data["auto_advance"] = False
        row.data["automatically_finalizes_at"] = None
        store.save(row)
        return
    if sub["status"] == "unpaid":
        # Stripe keeps generating invoices for an unpaid subscription, as drafts it never finalizes
        row.data["auto_advance"] = False
        row.data["automatically_finalizes_at"] = None
        store.save(row)
        return
    invoice = invoice_finalize(invoice_id)
    if invoice["status"] != "open":
        return
    if pause and pause.get("behavior") == "void":
        invoice_void(invoice_id)
    elif pause and pause.get("behavior") == "mark_uncollectible":
        invoice_mark_uncollectible(invoice_id)
    else:
        invoice_pay(invoice_id)


def advance_due() -> None:
    """Clock work for invoices: finalize drafts whose hour passed, retry failed payments."""
    now = clock.now()
    drafts = store.queryset("invoice", account=None).filter(
        data__status="draft", data__automatically_finalizes_at__lte=now
    )
    for row in drafts.order_by("created", "seq"):
        open_draft(row.id)
    retries = (
        store.queryset("invoice", account=None)
        .filter(data__status="open", data__next_payment_attempt__lte=now)
        .exclude(data__billing_reason="subscription_create")
    )
    for row in retries.order_by("created", "seq"):
        if int(row.data["attempt_count"]) > 0:
            invoice_pay(row.id)


def invoice_rows_for(sub_id: str) -> list[SandboxObject]:
    return list(
        store.queryset("invoice", account=None)
        .filter(data__parent__subscription_details__subscription=sub_id)
        .order_by("created", "seq")
    )


# --- includable fields (expand[]=confirmation_secret / payments) --------------------------------
def confirmation_secret(invoice: JSON) -> JSON | None:
    row = SandboxObject.objects.filter(pk=invoice.get("id"), object="invoice").first()
    pi_id = row.private.get("payment_intent") if row is not None else None
    if not pi_id or invoice.get("status") != "open":
        return None
    pi = SandboxObject.objects.filter(pk=pi_id).first()
    if pi is None:
        return None
    return {"client_secret": pi.data["client_secret"], "type": "payment_intent"}


def invoice_payments(invoice: JSON) -> JSON:
    row = SandboxObject.objects.filter(pk=invoice.get("id"), object="invoice").first()
    data: list[JSON] = []
    if row is not None and row.private.get("payment_intent"):
        pi = SandboxObject.objects.filter(pk=row.private["payment_intent"]).first()
        status = "paid" if invoice.get("status") == "paid" else "open"
        if pi is not None and pi.data.get("status") == "canceled":
            status = "canceled"
        data.append(
            {
                "id": row.private.get("payment_id") or new_id("inpay"),
                "object": "invoice_payment",
                "amount_paid": invoice["amount_paid"] if status == "paid" else None,
                "amount_requested": invoice["amount_due"],
                "created": invoice["status_transitions"].get("finalized_at") or invoice["created"],
                "currency": invoice["currency"],
                "invoice": invoice["id"],
                "is_default": True,
                "livemode": False,
                "payment": {
                    "charge": None,
                    "payment_intent": row.private["payment_intent"],
                    "payment_record": None,
                    "type": "payment_intent",
                },
                "status": status,
                "status_transitions": {
                    "canceled_at": pi.data.get("canceled_at") if pi is not None else None,
                    "paid_at": row.private.get("paid_at"),
                },
            }
        )
    return store.list_of(data, url=f"/v1/invoice_payments?invoice={invoice.get('id')}")


store.register_includable("invoice", "confirmation_secret", confirmation_secret)
store.register_includable("invoice", "payments", invoice_payments)


# --- routes -------------------------------------------------------------------------------------
@route("GET", "/v1/invoices/{id}", params=InvoiceRetrieveParams)
def retrieve(req: Request) -> JSON:
    return store.get(req.args["id"], object_type="invoice", account=req.account, param="id")


@route("GET", "/v1/invoices", params=InvoiceListParams)
def list_(req: Request) -> JSON:
    qs = store.queryset("invoice", account=req.account)
    for key in ("customer", "status", "collection_method"):
        if req.params.get(key):
            qs = qs.filter(**{f"data__{key}": req.params[key]})
    if req.params.get("subscription"):
        qs = qs.filter(data__parent__subscription_details__subscription=req.params["subscription"])
    return store.list_response(qs, req.params, url="/v1/invoices")


@route("GET", "/v1/invoices/{id}/lines", params=InvoiceListLinesParams)
def lines(req: Request) -> JSON:
    invoice = store.get(req.args["id"], object_type="invoice", account=req.account, param="id")
    return _page(invoice["lines"]["data"], req.params, url=f"/v1/invoices/{invoice['id']}/lines")


def _page(items: list[JSON], params: JSON, *, url: str) -> JSON:
    limit = int(params.get("limit") or 10)
    if not 1 <= limit <= 100:
        raise invalid_request(
            "Invalid limit: must be between 1 and 100",
            param="limit",
            code="parameter_invalid_integer",
        )
    start = 0
    if params.get("starting_after"):
        ids = [item["id"] for item in items]
        if params["starting_after"] not in ids:
            raise invalid_request(
                f"No such line item: '{params['starting_after']}'", param="starting_after"
            )
        start = ids.index(params["starting_after"]) + 1
    chunk = items[start : start + limit]
    return store.list_of(chunk, url=url, has_more=start + limit < len(items))


@route("POST", "/v1/invoices/{id}/pay", params=InvoicePayParams)
def pay(req: Request) -> JSON:
    p = req.params
    row = store.get_row(req.args["id"], object_type="invoice", account=req.account, param="id")
    if row.data["status"] == "draft":
        invoice_finalize(row.id)
        row = store.get_row(row.id, object_type="invoice")
        if row.data["status"] == "paid":
            return store.get(row.id)
    if p.get("paid_out_of_band"):
        if row.data["status"] != "open":
            raise invalid_request(
                f"Invoice is already {row.data['status']}", code="invoice_not_open"
            )
        _cancel_intent(row)
        _mark_paid(row.id, out_of_band=True)
        return store.get(row.id)
    pm = None
    if p.get("payment_method"):
        pm = cards.resolve(str(p["payment_method"]), account=req.account)["id"]
    invoice, error = invoice_pay(
        row.id, payment_method=pm, off_session=bool(p.get("off_session", True))
    )
    if error is not None:
        if error.type == "card_error":
            error.keep_changes = True
            raise error
        raise error
    return invoice


@route("POST", "/v1/invoices/{id}/finalize", params=InvoiceFinalizeInvoiceParams)
def finalize(req: Request) -> JSON:
    store.get(req.args["id"], object_type="invoice", account=req.account, param="id")
    invoice = invoice_finalize(req.args["id"])
    if req.params.get("auto_advance") is False:
        invoice, _ = store.update(invoice["id"], {"auto_advance": False}, object_type="invoice")
    return invoice


@route("POST", "/v1/invoices/{id}/void", params=InvoiceVoidInvoiceParams)
def void(req: Request) -> JSON:
    return invoice_void(req.args["id"], account=req.account)


@route("POST", "/v1/invoices/{id}/mark_uncollectible", params=InvoiceMarkUncollectibleParams)
def mark_uncollectible(req: Request) -> JSON:
    return invoice_mark_uncollectible(req.args["id"], account=req.account)


@route("POST", "/v1/invoices/create_preview", params=InvoiceCreatePreviewParams)
def create_preview(req: Request) -> JSON:
    from sandbox.resources import subscriptions

    return subscriptions.preview(req.params, account=req.account)


# --- invoice payments (``/v1/invoice_payments``) ------------------------------------------------
@route("GET", "/v1/invoice_payments", params=InvoicePaymentListParams)
def invoice_payment_list(req: Request) -> JSON:
    """The payments of invoices (one PaymentIntent per finalized invoice in the sandbox),
    newest first; filters ``invoice``, ``payment[payment_intent]``, ``status``."""
    p = req.params
    qs = store.queryset("invoice", account=req.account).exclude(data__status="draft")
    if p.get("invoice"):
        store.get(str(p["invoice"]), object_type="invoice", account=req.account, param="invoice")
        qs = qs.filter(pk=p["invoice"])
    payment = p.get("payment") or {}
    if payment.get("payment_intent"):
        qs = qs.filter(private__payment_intent=payment["payment_intent"])
    qs = store.apply_created_filter(qs, p.get("created"))
    items: list[JSON] = []
    for row in qs.order_by("-created", "-seq"):
        items.extend(invoice_payments(row.data)["data"])
    if p.get("status"):
        items = [item for item in items if item["status"] == p["status"]]
    return _page(items, {k: v for k, v in p.items() if k != "created"}, url="/v1/invoice_payments")


@route("GET", "/v1/invoice_payments/{id}", params=InvoicePaymentRetrieveParams)
def invoice_payment_retrieve(req: Request) -> JSON:
    row = (
        store.queryset("invoice", account=req.account)
        .filter(private__payment_id=req.args["id"])
        .first()
    )
    if row is not None:
        for item in invoice_payments(row.data)["data"]:
            if item["id"] == req.args["id"]:
                return dict(item)
    raise invalid_request(
        f"No such invoice payment: '{req.args['id']}'",
        status=404,
        code="resource_missing",
        param="id",
    )
