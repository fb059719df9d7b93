"""Subscriptions and invoices, as far as Checkout in ``subscription`` mode needs them:
``/v1/subscriptions`` (retrieve, list, update ``metadata`` / ``cancel_at_period_end``, cancel)
and ``/v1/invoices`` (retrieve, list).

A subscription starts from a paid Checkout Session (recurring prices, ``subscription_data``
with ``application_fee_percent``, ``transfer_data[destination]``, ``metadata``). Each invoice is
paid by a PaymentIntent on the subscription's default card: a destination charge with
``application_fee_amount = round_half_up(amount * application_fee_percent / 100)``.
Renewals happen on the sandbox clock at ``current_period_end``. A failed renewal is
``invoice.payment_failed`` (``attempt_count``, ``next_payment_attempt`` 3 days later; the
subscription goes ``past_due``); after 4 failed attempts the subscription is canceled
(``customer.subscription.deleted``). Events: ``customer.subscription.created / updated /
deleted``, ``invoice.created / finalized / paid / payment_succeeded / payment_failed``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from stripe.params import (
    InvoiceListParams,
    InvoiceRetrieveParams,
    SubscriptionCancelParams,
    SubscriptionListParams,
    SubscriptionRetrieveParams,
    SubscriptionUpdateParams,
)

from sandbox import cards, clock, store
from sandbox.errors import StripeError, invalid_request
from sandbox.events import emit
from sandbox.ids import new_id
from sandbox.models import SandboxObject
from sandbox.resources import payments
from sandbox.router import Request, route

JSON = dict[str, Any]
RETRY_DAYS = 3
MAX_ATTEMPTS = 4


def add_interval(start: int, interval: str, count: int) -> int:
    """``start`` moved by ``count`` intervals (months keep the day, clamped to the month's end)."""
    if interval == "day":
        return start + 86400 * count
    if interval == "week":
        return start + 7 * 86400 * count
    moment = datetime.fromtimestamp(start, tz=UTC)
    months = count * (12 if interval == "year" else 1)
    month0 = moment.month - 1 + months
    year, month = moment.year + month0 // 12, month0 % 12 + 1
    for day in (moment.day, 30, 29, 28):
        try:
            return int(moment.replace(year=year, month=month, day=day).timestamp())
        except ValueError:
            continue
    raise ValueError("bad date")


def fee_for(amount: int, percent: float | None) -> int | None:
    if percent is None:
        return None
    value = Decimal(str(amount)) * Decimal(str(percent)) / Decimal(100)
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _plan(price: JSON) -> JSON:
    recurring = price["recurring"]
    return {
        "id": price["id"],
        "object": "plan",
        "active": price.get("active", True),
        "amount": price["unit_amount"],
        "amount_decimal": str(price["unit_amount"]),
        "billing_scheme": "per_unit",
        "created": price["created"],
        "currency": price["currency"],
        "interval": recurring["interval"],
        "interval_count": recurring["interval_count"],
        "livemode": False,
        "metadata": {},
        "meter": None,
        "nickname": None,
        "product": price["product"],
        "tiers_mode": None,
        "transform_usage": None,
        "trial_period_days": None,
        "usage_type": recurring.get("usage_type") or "licensed",
    }


def subscription_create(
    *,
    customer: str,
    line_items: list[JSON],
    payment_method: str,
    subscription_data: JSON,
    account: str,
) -> JSON:
    """An ``incomplete`` subscription and its first (open) invoice; the caller pays it."""
    now = clock.now()
    sub_id = new_id("sub")
    price = line_items[0]["price"]
    interval, count = price["recurring"]["interval"], int(price["recurring"]["interval_count"])
    period_end = add_interval(now, interval, count)
    items = [
        {
            "id": new_id("si"),
            "object": "subscription_item",
            "created": now,
            "current_period_end": period_end,
            "current_period_start": now,
            "discounts": [],
            "metadata": {},
            "plan": _plan(item["price"]),
            "price": item["price"],
            "quantity": item["quantity"],
            "subscription": sub_id,
            "tax_rates": [],
        }
        for item in line_items
    ]
    transfer = subscription_data.get("transfer_data") or None
    metadata = subscription_data.get("metadata")
    subscription = store.create(
        "sub",
        "subscription",
        {
            "application": None,
            "application_fee_percent": subscription_data.get("application_fee_percent"),
            "automatic_tax": {"disabled_reason": None, "enabled": False, "liability": None},
            "billing_cycle_anchor": now,
            "billing_mode": {"flexible": None, "type": "classic", "updated_at": None},
            "billing_schedules": [],
            "cancel_at": None,
            "cancel_at_period_end": False,
            "canceled_at": None,
            "cancellation_details": {"comment": None, "feedback": None, "reason": None},
            "collection_method": "charge_automatically",
            "currency": price["currency"],
            "customer": customer,
            "days_until_due": None,
            "default_payment_method": payment_method,
            "description": None,
            "discounts": [],
            "ended_at": None,
            "invoice_settings": {"account_tax_ids": None, "issuer": {"type": "self"}},
            "items": store.list_of(items, url=f"/v1/subscription_items?subscription={sub_id}"),
            "latest_invoice": None,
            "livemode": False,
            "metadata": metadata if isinstance(metadata, dict) else {},
            "on_behalf_of": subscription_data.get("on_behalf_of"),
            "start_date": now,
            "status": "incomplete",
            "transfer_data": (
                {
                    "amount_percent": transfer.get("amount_percent"),
                    "destination": transfer["destination"],
                }
                if transfer
                else None
            ),
            "trial_end": None,
            "trial_start": None,
        },
        account=account,
        object_id=sub_id,
    )
    emit("customer.subscription.created", subscription, account=account or None)
    invoice_create(sub_id, period_start=now, period_end=period_end, reason="subscription_create")
    return store.get(sub_id)


def invoice_create(sub_id: str, *, period_start: int, period_end: int, reason: str) -> JSON:
    """A finalized (``open``) invoice for one period of the subscription, with the
    PaymentIntent that will pay it."""
    row = store.get_row(sub_id, object_type="subscription", for_update=True)
    sub = row.data
    now = clock.now()
    invoice_id = new_id("in")
    lines = []
    for item in sub["items"]["data"]:
        amount = int(item["price"]["unit_amount"]) * int(item["quantity"])
        lines.append(
            {
                "id": new_id("il"),
                "object": "line_item",
                "amount": amount,
                "currency": sub["currency"],
                "description": f"{item['quantity']} x subscription",
                "discount_amounts": [],
                "discountable": True,
                "discounts": [],
                "invoice": invoice_id,
                "livemode": False,
                "metadata": {},
                "parent": None,
                "period": {"end": period_end, "start": period_start},
                "pretax_credit_amounts": [],
                "pricing": {
                    "price_details": {
                        "price": item["price"]["id"],
                        "product": item["price"]["product"],
                    },
                    "type": "price_details",
                    "unit_amount_decimal": str(item["price"]["unit_amount"]),
                },
                "quantity": item["quantity"],
                "subtotal": amount,
                "taxes": [],
            }
        )
    total = sum(line["amount"] for line in lines)
    invoice = store.create(
        "in",
        "invoice",
        {
            "account_country": "US",
            "account_name": "Sandbox platform",
            "amount_due": total,
            "amount_overpaid": 0,
            "amount_paid": 0,
            "amount_remaining": total,
            "amount_shipping": 0,
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
            "billing_reason": reason,
            "collection_method": "charge_automatically",
            "currency": sub["currency"],
            "customer": sub["customer"],
            "default_payment_method": None,
            "default_tax_rates": [],
            "description": None,
            "discounts": [],
            "due_date": None,
            "ending_balance": 0,
            "hosted_invoice_url": None,
            "invoice_pdf": None,
            "issuer": {"type": "self"},
            "lines": store.list_of(lines, url=f"/v1/invoices/{invoice_id}/lines"),
            "livemode": False,
            "metadata": {},
            "next_payment_attempt": now,
            "number": None,
            "parent": {
                "quote_details": None,
                "subscription_details": {"metadata": dict(sub["metadata"]), "subscription": sub_id},
                "type": "subscription_details",
            },
            "payment_settings": {
                "default_mandate": None,
                "payment_method_options": None,
                "payment_method_types": None,
            },
            "period_end": period_end,
            "period_start": period_start,
            "post_payment_credit_notes_amount": 0,
            "pre_payment_credit_notes_amount": 0,
            "starting_balance": 0,
            "status": "open",
            "status_transitions": {
                "finalized_at": now,
                "marked_uncollectible_at": None,
                "paid_at": None,
                "voided_at": None,
            },
            "subtotal": total,
            "total": total,
        },
        account=row.account,
        object_id=invoice_id,
    )
    fields: JSON = {
        "amount": total,
        "currency": sub["currency"],
        "customer": sub["customer"],
        "description": "Subscription update"
        if reason != "subscription_create"
        else "Subscription creation",
        "metadata": {},
    }
    if sub.get("transfer_data"):
        fields["transfer_data"] = {"destination": sub["transfer_data"]["destination"]}
        fields["application_fee_amount"] = fee_for(total, sub.get("application_fee_percent"))
    pi = payments.intent_create(fields, account=row.account)
    pi_row = payments.intent_row(pi["id"], account=row.account)
    pi_row.private["invoice"] = invoice_id
    store.save(pi_row)
    inv_row = store.get_row(invoice_id, object_type="invoice", for_update=True)
    inv_row.private["payment_intent"] = pi["id"]
    store.save(inv_row)
    sub["latest_invoice"] = invoice_id
    store.save(row)
    event_account = row.account or None
    emit("invoice.created", invoice, account=event_account)
    emit("invoice.finalized", invoice, account=event_account)
    return invoice


def invoice_pay(
    invoice_id: str, *, payment_method: str | None = None
) -> tuple[JSON, StripeError | None]:
    """Attempt to pay an open invoice with its subscription's default card (or the given one)."""
    inv_row = store.get_row(invoice_id, object_type="invoice", for_update=True)
    sub = store.get(
        inv_row.data["parent"]["subscription_details"]["subscription"], object_type="subscription"
    )
    pm = payment_method or sub.get("default_payment_method")
    pi_id = inv_row.private["payment_intent"]
    inv_row.data["attempt_count"] = int(inv_row.data["attempt_count"]) + 1
    inv_row.data["attempted"] = True
    store.save(inv_row)
    pi, error = payments.intent_confirm(pi_id, account=inv_row.account, payment_method=pm)
    if error is None and pi["status"] == "requires_action" and payment_method is None:
        error = StripeError(
            "Your card was declined. This transaction requires authentication.",
            code="authentication_required",
            status=402,
            type="card_error",
            keep_changes=True,
        )
        payments.intent_cancel(payments.intent_row(pi_id, account=inv_row.account), reason=None)
    if error is not None:
        invoice_failed(invoice_id, error)
    return store.get(invoice_id), error


def invoice_paid(invoice_id: str, pi: JSON) -> None:
    """The invoice's PaymentIntent succeeded: invoice ``paid``, subscription ``active``."""
    inv_row = store.get_row(invoice_id, object_type="invoice", for_update=True)
    invoice = inv_row.data
    if invoice["status"] == "paid":
        return
    now = clock.now()
    invoice.update(
        amount_paid=invoice["amount_due"],
        amount_remaining=0,
        next_payment_attempt=None,
        status="paid",
        number=invoice.get("number") or f"SBX-{invoice_id[-8:].upper()}",
    )
    invoice["status_transitions"]["paid_at"] = now
    saved = store.save(inv_row)
    event_account = inv_row.account or None
    emit("invoice.paid", saved, account=event_account)
    emit("invoice.payment_succeeded", saved, account=event_account)
    sub_row = store.get_row(
        invoice["parent"]["subscription_details"]["subscription"],
        object_type="subscription",
        for_update=True,
    )
    sub = sub_row.data
    before = {"status": sub["status"]}
    if sub["status"] in ("incomplete", "past_due"):
        sub["status"] = "active"
        store.save(sub_row)
        emit(
            "customer.subscription.updated", sub, account=event_account, previous_attributes=before
        )


def invoice_failed(invoice_id: str, error: StripeError) -> None:
    inv_row = store.get_row(invoice_id, object_type="invoice", for_update=True)
    invoice = inv_row.data
    attempts = int(invoice["attempt_count"])
    sub_row = store.get_row(
        invoice["parent"]["subscription_details"]["subscription"],
        object_type="subscription",
        for_update=True,
    )
    sub = sub_row.data
    renewal = invoice["billing_reason"] != "subscription_create"
    invoice["next_payment_attempt"] = (
        clock.now() + RETRY_DAYS * 86400 if renewal and attempts < MAX_ATTEMPTS else None
    )
    saved = store.save(inv_row)
    event_account = inv_row.account or None
    emit("invoice.payment_failed", saved, account=event_account)
    if not renewal:
        return  # Checkout: the buyer tries another card; the subscription stays incomplete
    if attempts >= MAX_ATTEMPTS:
        subscription_cancel(sub_row.id, account=sub_row.account)
        invoice["status"] = "uncollectible"
        invoice["status_transitions"]["marked_uncollectible_at"] = clock.now()
        store.save(inv_row)
    elif sub["status"] != "past_due":
        before = {"status": sub["status"]}
        sub["status"] = "past_due"
        store.save(sub_row)
        emit(
            "customer.subscription.updated", sub, account=event_account, previous_attributes=before
        )


def subscription_cancel(sub_id: str, *, account: str | None) -> JSON:
    row = store.get_row(
        sub_id,
        object_type="subscription",
        account=account,
        for_update=True,
        param="subscription_exposed_id",
    )
    sub = row.data
    if sub["status"] == "canceled":
        raise invalid_request(
            f"No such subscription: '{sub_id}'", status=404, code="resource_missing"
        )
    now = clock.now()
    sub.update(status="canceled", canceled_at=now, ended_at=now)
    saved = store.save(row)
    emit("customer.subscription.deleted", saved, account=row.account or None)
    return saved


def renew_due() -> None:
    """Clock job: renew subscriptions whose period ended; retry failed invoices when due."""
    now = clock.now()
    for row in store.queryset("subscription", account=None).filter(
        data__status__in=["active", "past_due"]
    ):
        guard = 0
        while guard < 60:
            guard += 1
            sub = store.get(row.id)
            if sub["status"] not in ("active", "past_due"):
                break
            item = sub["items"]["data"][0]
            end = int(item["current_period_end"])
            if end > now:
                break
            if sub.get("cancel_at_period_end"):
                subscription_cancel(row.id, account=row.account)
                break
            price = item["price"]["recurring"]
            new_end = add_interval(end, price["interval"], int(price["interval_count"]))
            srow = store.get_row(row.id, object_type="subscription", for_update=True)
            for it in srow.data["items"]["data"]:
                it["current_period_start"], it["current_period_end"] = end, new_end
            store.save(srow)
            invoice = invoice_create(
                row.id, period_start=end, period_end=new_end, reason="subscription_cycle"
            )
            invoice_pay(invoice["id"])
    for row in (
        store.queryset("invoice", account=None)
        .filter(data__status="open", data__next_payment_attempt__lte=now)
        .exclude(data__billing_reason="subscription_create")
    ):
        if int(row.data["attempt_count"]) > 0:
            invoice_pay(row.id)


clock.register_job(renew_due, name="sandbox.subscriptions.renew_due")


def attach_card(pm_id: str, customer: str) -> None:
    row = store.get_row(pm_id, object_type="payment_method", for_update=True)
    row.data["customer"] = customer
    store.save(row)


def customer_for_checkout(email: str | None, account: str) -> str:
    from sandbox.resources import customers

    req = Request(
        method="POST",
        path="/v1/customers",
        params={"email": email} if email else {},
        account=account,
    )
    created = customers.customer_create(req)
    customer = created[1] if isinstance(created, tuple) else created
    return str(customer["id"])


# --- routes ------------------------------------------------------------------------------------
@route("GET", "/v1/subscriptions/{id}", params=SubscriptionRetrieveParams)
def retrieve(req: Request) -> JSON:
    return store.get(req.args["id"], object_type="subscription", account=req.account, param="id")


@route("GET", "/v1/subscriptions", params=SubscriptionListParams)
def list_(req: Request) -> JSON:
    qs = store.queryset("subscription", account=req.account)
    status = req.params.get("status")
    if status and status != "all":
        qs = qs.filter(data__status=status)
    elif not status:
        qs = qs.exclude(data__status="canceled")
    if req.params.get("customer"):
        qs = qs.filter(data__customer=req.params["customer"])
    return store.list_response(qs, req.params, url="/v1/subscriptions")


@route("POST", "/v1/subscriptions/{id}", params=SubscriptionUpdateParams)
def update(req: Request) -> JSON:
    p = req.params
    changes: JSON = {}
    if "metadata" in p:
        changes["metadata"] = p["metadata"]
    if "cancel_at_period_end" in p:
        changes["cancel_at_period_end"] = bool(p["cancel_at_period_end"])
    if p.get("default_payment_method"):
        sub = store.get(req.args["id"], object_type="subscription", account=req.account)
        pm = cards.resolve(str(p["default_payment_method"]), account=req.account)
        attach_card(pm["id"], sub["customer"])
        changes["default_payment_method"] = pm["id"]
    sub, previous = store.update(
        req.args["id"], changes, object_type="subscription", account=req.account
    )
    if previous:
        emit(
            "customer.subscription.updated",
            sub,
            account=req.account or None,
            previous_attributes=previous,
        )
    return sub


@route("DELETE", "/v1/subscriptions/{id}", params=SubscriptionCancelParams)
def cancel(req: Request) -> JSON:
    return subscription_cancel(req.args["id"], account=req.account)


@route("GET", "/v1/invoices/{id}", params=InvoiceRetrieveParams)
def invoice_retrieve(req: Request) -> JSON:
    return store.get(req.args["id"], object_type="invoice", account=req.account, param="id")


@route("GET", "/v1/invoices", params=InvoiceListParams)
def invoice_list(req: Request) -> JSON:
    qs = store.queryset("invoice", account=req.account)
    for key in ("customer", "status"):
        if req.params.get(key):
            qs = qs.filter(**{f"data__{key}": req.params[key]})
    if req.params.get("subscription"):
        qs = qs.filter(data__parent__subscription_details__subscription=req.params["subscription"])
    return store.list_response(qs, req.params, url="/v1/invoices")


def invoice_rows_for(sub_id: str) -> list[SandboxObject]:
    return list(
        store.queryset("invoice", account=None)
        .filter(data__parent__subscription_details__subscription=sub_id)
        .order_by("created", "seq")
    )
