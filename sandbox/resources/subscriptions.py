"""Subscriptions (``/v1/subscriptions``): create, retrieve, list, update, cancel, resume, and
their life on the sandbox clock. Invoices are in ``sandbox.resources.invoices``.

Create takes ``customer``, ``items`` (recurring prices of one currency and one interval),
``default_payment_method`` (attached to the customer), ``payment_behavior``
(``allow_incomplete``, the default; ``default_incomplete``: the first invoice stays open with its
PaymentIntent for the front end, ``latest_invoice.confirmation_secret``; ``error_if_incomplete``:
a failed first payment is a 402 and nothing is created), ``application_fee_percent`` and
``transfer_data[destination]`` (each paid invoice is a destination charge),
``trial_period_days`` / ``trial_end`` (at most 730 days; ``trial_settings`` for a trial that ends
without a payment method: ``create_invoice``, ``pause`` or ``cancel``), ``cancel_at_period_end``,
``cancel_at``, ``metadata``, ``payment_settings[save_default_payment_method]``.

Statuses follow Stripe's transitions: ``incomplete`` -> ``active`` when the first invoice is
paid, or ``incomplete_expired`` 23 hours later; ``trialing`` -> ``active`` at the trial's end
(``paused`` or ``canceled`` without a payment method, as ``trial_settings`` says); a failed
renewal makes it ``past_due``, the last retry ``canceled``, ``unpaid`` or leaves it ``past_due``
(``SANDBOX_BILLING_AFTER_RETRIES``); paying the open invoice makes it ``active`` again.

Update changes items (price or quantity; add; delete) with ``proration_behavior``:
``create_prorations`` (the default: proration invoice items, ``proration=true``, on the next
invoice), ``always_invoice`` (invoiced and charged now), ``none``; ``proration_date`` fixes the
moment prorated to (so a preview and the update agree to the cent). A new billing interval
resets the billing cycle and invoices at once. Also ``cancel_at_period_end`` (and resuming by
setting it false), ``pause_collection`` (``keep_as_draft``, ``mark_uncollectible``, ``void``;
``resumes_at``), ``trial_end=now``, ``default_payment_method``. Delete cancels now, with
``prorate`` (credit for the unused time) and ``invoice_now`` (a final invoice of pending items
and metered usage; a credit goes to the customer's balance).

Events: ``customer.subscription.created / updated / deleted / paused / resumed /
trial_will_end`` (3 days before a trial ends) and the invoices' events. A renewal is
``customer.subscription.updated`` (the items' old periods and ``latest_invoice`` in
``previous_attributes``) with ``invoice.created`` when the period ends; the draft is finalized
and paid an hour later.
What the sandbox does not emulate is refused with a 400 naming the parameter (coupons and
discounts, taxes, ``send_invoice``, thresholds, subscription schedules, ``pending_if_incomplete``,
``billing_cycle_anchor`` other than the start).
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Q
from stripe.params import (
    SubscriptionCancelParams,
    SubscriptionCreateParams,
    SubscriptionItemListParams,
    SubscriptionItemRetrieveParams,
    SubscriptionListParams,
    SubscriptionResumeParams,
    SubscriptionRetrieveParams,
    SubscriptionUpdateParams,
)

from sandbox import cards, clock, store
from sandbox.errors import StripeError, invalid_request
from sandbox.events import emit
from sandbox.ids import new_id
from sandbox.models import SandboxObject
from sandbox.panels import register_control_panel
from sandbox.resources import invoices, payments
from sandbox.resources.invoices import (
    fee_for,
    invoice_create,
    invoice_paid,
    invoice_pay,
    invoice_rows_for,
)
from sandbox.router import Request, route

__all__ = [
    "add_interval",
    "attach_card",
    "customer_for_checkout",
    "fee_for",
    "invoice_create",
    "invoice_paid",
    "invoice_pay",
    "invoice_rows_for",
    "subscription_cancel",
    "subscription_create",
]

JSON = dict[str, Any]
DAY = 86400
MAX_TRIAL_DAYS = 730
TRIAL_WILL_END_BEFORE = 3 * DAY
INCOMPLETE_EXPIRES = 23 * 3600
LIVE = ("trialing", "active", "past_due", "unpaid")
ENDED = ("canceled", "incomplete_expired")
#: Maximum interval_count per interval: three years (Stripe's limit).
MAX_INTERVAL_COUNT = {"day": 1095, "week": 156, "month": 36, "year": 3}

#: Create/update parameters the sandbox does not emulate (a 400 names them).
NOT_EMULATED = (
    "add_invoice_items",
    "discounts",
    "billing_thresholds",
    "backdate_start_date",
    "billing_cycle_anchor_config",
    "billing_schedules",
    "default_tax_rates",
    "pending_invoice_item_interval",
    "default_source",
    "days_until_due",
    "customer_account",
    "trial_from_plan",
)


def add_interval(start: int, interval: str, count: int) -> int:
    """``start`` moved by ``count`` intervals (months keep the day, clamped to the month's end)."""
    if interval == "day":
        return start + DAY * count
    if interval == "week":
        return start + 7 * DAY * count
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


def _event_account(account: str) -> str | None:
    return account or None


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
        "metadata": dict(price.get("metadata") or {}),
        "meter": recurring.get("meter"),
        "nickname": price.get("nickname"),
        "product": price["product"],
        "tiers_mode": None,
        "transform_usage": None,
        "trial_period_days": None,
        "usage_type": recurring.get("usage_type") or "licensed",
    }


def _metered(price: JSON) -> bool:
    return (price.get("recurring") or {}).get("usage_type") == "metered"


def _item(
    sub_id: str, price: JSON, quantity: int | None, period: tuple[int, int], metadata: Any
) -> JSON:
    return {
        "id": new_id("si"),
        "object": "subscription_item",
        "billed_until": None,
        "billing_thresholds": None,
        "created": clock.now(),
        "current_period_end": period[1],
        "current_period_start": period[0],
        "current_trial": None,
        "discounts": [],
        "metadata": metadata if isinstance(metadata, dict) else {},
        "plan": _plan(price),
        "price": price,
        "quantity": None if _metered(price) else int(quantity if quantity is not None else 1),
        "subscription": sub_id,
        "tax_rates": [],
    }


def _period(sub: JSON) -> tuple[int, int]:
    item = sub["items"]["data"][0]
    return int(item["current_period_start"]), int(item["current_period_end"])


def _interval(sub: JSON) -> tuple[str, int]:
    recurring = sub["items"]["data"][0]["price"]["recurring"]
    return recurring["interval"], int(recurring["interval_count"])


def _resolve_price(spec: JSON, *, param: str, account: str, allow_inactive: bool = False) -> JSON:
    from sandbox.resources import products

    if spec.get("price") and spec.get("price_data"):
        raise invalid_request(
            "You may only specify one of these parameters: price, price_data.", param=param
        )
    if spec.get("price_data"):
        data = dict(spec["price_data"])
        price = products.price_create(data, account=account)
        emit("price.created", price, account=_event_account(account))
    elif spec.get("price"):
        price = store.get(
            str(spec["price"]), object_type="price", account=account, param=f"{param}[price]"
        )
    else:
        raise invalid_request(
            f"Missing required param: {param}[price].",
            param=f"{param}[price]",
            code="parameter_missing",
        )
    if not price.get("active", True) and not allow_inactive:
        raise invalid_request(
            "The price specified is inactive. This field only accepts active prices.",
            param=f"{param}[price]",
        )
    if price.get("type") != "recurring":
        raise invalid_request(
            "The price specified is set to `type=one_time` but this field only accepts prices "
            "with `type=recurring`.",
            param=f"{param}[price]",
        )
    if _metered(price) and spec.get("quantity") is not None:
        raise invalid_request(
            "Quantity should not be specified where usage_type is `metered`. Remove quantity "
            "from the subscription item.",
            param=f"{param}[quantity]",
        )
    if spec.get("quantity") is not None and int(spec["quantity"]) < 0:
        raise invalid_request("Invalid quantity: must be at least 0", param=f"{param}[quantity]")
    return price


def _check_not_emulated(p: JSON) -> None:
    for key in NOT_EMULATED:
        if p.get(key) not in (None, "", [], {}):
            raise invalid_request(
                f"The sandbox does not emulate `{key}` on subscriptions.", param=key
            )
    if p.get("collection_method") not in (None, "charge_automatically"):
        raise invalid_request(
            "The sandbox emulates only collection_method=charge_automatically "
            "(send_invoice is not emulated).",
            param="collection_method",
        )
    if (p.get("automatic_tax") or {}).get("enabled"):
        raise invalid_request("The sandbox does not emulate taxes.", param="automatic_tax[enabled]")
    if p.get("payment_behavior") == "pending_if_incomplete":
        raise invalid_request(
            "The sandbox does not emulate payment_behavior=pending_if_incomplete (pending "
            "updates).",
            param="payment_behavior",
        )
    mode = (p.get("billing_mode") or {}).get("type")
    if mode not in (None, "classic"):
        raise invalid_request(
            "The sandbox emulates only billing_mode[type]=classic.", param="billing_mode[type]"
        )


def _check_fee(p: JSON, *, account: str, transfer: JSON | None) -> float | None:
    percent = p.get("application_fee_percent")
    if percent in (None, ""):
        return None
    value = Decimal(str(percent))
    if not 0 <= value <= 100 or value != value.quantize(Decimal("0.01")):
        raise invalid_request(
            "application_fee_percent must be a number between 0 and 100 with at most two "
            "decimal places.",
            param="application_fee_percent",
        )
    if not account and not (transfer and transfer.get("destination")):
        raise invalid_request(
            "Can only apply an application_fee_percent when the request is made on behalf of "
            "another account (using an OAuth key or the Stripe-Account header) or when "
            "transfer_data[destination] is set.",
            param="application_fee_percent",
        )
    return float(percent)


def _check_transfer(p: JSON) -> JSON | None:
    transfer = p.get("transfer_data") if isinstance(p.get("transfer_data"), dict) else None
    if not transfer:
        return None
    destination = payments.check_destination(
        transfer.get("destination"), param="transfer_data[destination]"
    )
    amount_percent = transfer.get("amount_percent")
    if amount_percent is not None:
        raise invalid_request(
            "The sandbox does not emulate transfer_data[amount_percent]; use "
            "application_fee_percent for the platform's share.",
            param="transfer_data[amount_percent]",
        )
    return {"amount_percent": None, "destination": destination}


def _trial_end(p: JSON, now: int) -> int | None:
    if p.get("trial_period_days") not in (None, "") and p.get("trial_end") not in (None, ""):
        raise invalid_request(
            "You may only specify one of these parameters: trial_end, trial_period_days.",
            param="trial_end",
        )
    if p.get("trial_period_days") not in (None, ""):
        days = int(p["trial_period_days"])
        if days < 0 or days > MAX_TRIAL_DAYS:
            raise invalid_request(
                f"Invalid trial_period_days: must be between 0 and {MAX_TRIAL_DAYS} (the "
                "maximum trial is 730 days).",
                param="trial_period_days",
            )
        return now + days * DAY if days else None
    end = p.get("trial_end")
    if end in (None, ""):
        return None
    if end == "now":
        return None
    end = int(end)
    if end <= now:
        raise invalid_request(
            "Invalid timestamp: must be an integer Unix timestamp in the future.", param="trial_end"
        )
    if end > now + MAX_TRIAL_DAYS * DAY:
        raise invalid_request(
            "Invalid trial_end: can be no more than 730 days in the future.", param="trial_end"
        )
    return end


def _trial_settings(p: JSON) -> JSON:
    given = ((p.get("trial_settings") or {}).get("end_behavior") or {}).get(
        "missing_payment_method"
    )
    return {"end_behavior": {"missing_payment_method": given or "create_invoice"}}


def _payment_method_for(customer: str, pm_id: str, *, account: str, param: str) -> str:
    pm = cards.resolve(pm_id, account=account, param=param)
    if pm.get("customer") != customer:
        raise invalid_request(
            f"The customer does not have a payment method with the ID {pm_id}. The payment "
            "method must be attached to the customer.",
            param=param,
        )
    return str(pm["id"])


def _subscription_json(
    sub_id: str,
    *,
    customer: str,
    currency: str,
    items: list[JSON],
    p: JSON,
    transfer: JSON | None,
    fee_percent: float | None,
    trial_end: int | None,
    payment_method: str | None,
    now: int,
) -> JSON:
    metadata = p.get("metadata")
    period_end = int(items[0]["current_period_end"])
    cancel_at = int(p["cancel_at"]) if p.get("cancel_at") not in (None, "") else None
    if p.get("cancel_at_period_end"):
        cancel_at = period_end
    save_pm = (p.get("payment_settings") or {}).get("save_default_payment_method") or "off"
    return {
        "application": None,
        "application_fee_percent": fee_percent,
        "automatic_tax": {"disabled_reason": None, "enabled": False, "liability": None},
        "billing_cycle_anchor": period_end if trial_end else now,
        "billing_cycle_anchor_config": None,
        "billing_mode": {"flexible": None, "type": "classic", "updated_at": None},
        "billing_schedules": [],
        "billing_thresholds": None,
        "cancel_at": cancel_at,
        "cancel_at_period_end": bool(p.get("cancel_at_period_end")),
        "canceled_at": None,
        "cancellation_details": {"comment": None, "feedback": None, "reason": None},
        "collection_method": "charge_automatically",
        "currency": currency,
        "customer": customer,
        "customer_account": None,
        "days_until_due": None,
        "default_payment_method": payment_method,
        "default_source": None,
        "default_tax_rates": [],
        "description": p.get("description"),
        "discounts": [],
        "ended_at": None,
        "invoice_settings": {"account_tax_ids": None, "issuer": {"type": "self"}},
        "items": store.list_of(items, url=f"/v1/subscription_items?subscription={sub_id}"),
        "latest_invoice": None,
        "livemode": False,
        "metadata": metadata if isinstance(metadata, dict) else {},
        "next_pending_invoice_item_invoice": None,
        "on_behalf_of": p.get("on_behalf_of"),
        "pause_collection": None,
        "payment_settings": {
            "payment_method_options": None,
            "payment_method_types": None,
            "save_default_payment_method": save_pm,
        },
        "pending_invoice_item_interval": None,
        "pending_setup_intent": None,
        "pending_update": None,
        "presentment_details": None,
        "schedule": None,
        "start_date": now,
        "status": "trialing" if trial_end else "incomplete",
        "test_clock": None,
        "transfer_data": transfer,
        "trial_end": trial_end,
        "trial_settings": _trial_settings(p),
        "trial_start": now if trial_end else None,
    }


def create_subscription(
    p: JSON, *, account: str, attempt: bool = True, inline_prices: bool = False
) -> JSON:
    """Validate ``SubscriptionCreateParams``-shaped ``p``, store the subscription and its first
    invoice (finalized), and pay it as ``payment_behavior`` says."""
    _check_not_emulated(p)
    now = clock.now()
    customer = str(p.get("customer") or "")
    if not customer:
        raise invalid_request(
            "Missing required param: customer.", param="customer", code="parameter_missing"
        )
    store.get(customer, object_type="customer", account=account, param="customer")
    specs = list(p.get("items") or [])
    if not specs:
        raise invalid_request(
            "Missing required param: items.", param="items", code="parameter_missing"
        )
    if len(specs) > 20:
        raise invalid_request("A subscription can have at most 20 items.", param="items")
    prices = [
        _resolve_price(dict(s), param=f"items[{i}]", account=account, allow_inactive=inline_prices)
        for i, s in enumerate(specs)
    ]
    currency = prices[0]["currency"]
    interval = (prices[0]["recurring"]["interval"], prices[0]["recurring"]["interval_count"])
    for i, price in enumerate(prices):
        if price["currency"] != currency:
            raise invalid_request(
                "All prices on a subscription must have the same `currency`.",
                param=f"items[{i}][price]",
            )
        if (price["recurring"]["interval"], price["recurring"]["interval_count"]) != interval:
            raise invalid_request(
                "The price specified has a different billing interval than the other items; all "
                "prices on a subscription must have the same `recurring.interval` and "
                "`recurring.interval_count`.",
                param=f"items[{i}][price]",
            )
    if len({price["id"] for price in prices}) != len(prices):
        raise invalid_request(
            "Cannot add multiple subscription items with the same price.", param="items"
        )
    transfer = _check_transfer(p)
    fee_percent = _check_fee(p, account=account, transfer=transfer)
    trial_end = _trial_end(p, now)
    behavior = p.get("payment_behavior") or "allow_incomplete"
    payment_method = None
    if p.get("default_payment_method"):
        payment_method = _payment_method_for(
            customer,
            str(p["default_payment_method"]),
            account=account,
            param="default_payment_method",
        )
    if p.get("cancel_at") not in (None, "") and p.get("cancel_at_period_end"):
        raise invalid_request(
            "You may only specify one of these parameters: cancel_at, cancel_at_period_end.",
            param="cancel_at",
        )
    if p.get("cancel_at") not in (None, "") and int(p["cancel_at"]) <= now:
        raise invalid_request("cancel_at must be in the future.", param="cancel_at")
    sub_id = new_id("sub")
    end = trial_end or add_interval(now, interval[0], int(interval[1]))
    items = [
        _item(sub_id, price, spec.get("quantity"), (now, end), spec.get("metadata"))
        for price, spec in zip(prices, specs, strict=True)
    ]
    data = _subscription_json(
        sub_id,
        customer=customer,
        currency=currency,
        items=items,
        p=p,
        transfer=transfer,
        fee_percent=fee_percent,
        trial_end=trial_end,
        payment_method=payment_method,
        now=now,
    )
    sub = store.create("sub", "subscription", data, account=account, object_id=sub_id)
    emit("customer.subscription.created", sub, account=_event_account(account))
    invoice = invoices.invoice_create(
        sub_id,
        period_start=now,
        period_end=end,
        reason="subscription_create",
        invoice_period=(now, now),
    )
    if trial_end:
        _schedule_trial_will_end(sub_id, now=now)
    if invoice["status"] == "paid" and behavior == "default_incomplete" and not payment_method:
        _pending_setup_intent(sub_id, customer=customer, account=account)
    if invoice["status"] == "open" and attempt and behavior != "default_incomplete":
        _, error = invoices.invoice_pay(invoice["id"], payment_method=payment_method)
        if error is not None and behavior == "error_if_incomplete":
            raise StripeError(
                error.message,
                status=error.status,
                type=error.type,
                code=error.code,
                decline_code=error.decline_code,
                param=error.param,
            )
    return store.get(sub_id)


def _pending_setup_intent(sub_id: str, *, customer: str, account: str) -> None:
    """Nothing to pay now (a trial) with ``default_incomplete``: a SetupIntent to collect the
    card for later invoices (``pending_setup_intent``; its ``client_secret`` goes to the front
    end's ``confirmSetup``)."""
    from sandbox.resources import setup_intents

    si = setup_intents.setup_intent_create(
        {"customer": customer, "usage": "off_session", "metadata": {}}, account=account
    )
    store.update(sub_id, {"pending_setup_intent": si["id"]}, object_type="subscription")


def setup_intent_succeeded(si: JSON) -> None:
    """A subscription's ``pending_setup_intent`` succeeded: it is cleared, and the card becomes
    the subscription's default when ``save_default_payment_method=on_subscription``."""
    for row in store.queryset("subscription", account=None).filter(
        data__pending_setup_intent=si["id"]
    ):
        sub = row.data
        before = {"pending_setup_intent": si["id"]}
        sub["pending_setup_intent"] = None
        save = (sub.get("payment_settings") or {}).get("save_default_payment_method")
        if save == "on_subscription" and not sub.get("default_payment_method"):
            before["default_payment_method"] = None
            sub["default_payment_method"] = si.get("payment_method")
        saved = store.save(row)
        emit(
            "customer.subscription.updated",
            saved,
            account=_event_account(row.account),
            previous_attributes=before,
        )


def _schedule_trial_will_end(sub_id: str, *, now: int) -> None:
    """A trial of 3 days or less gets ``trial_will_end`` at once (Stripe sends it when the end
    is less than three days away); longer ones from the clock job."""
    row = store.get_row(sub_id, object_type="subscription", for_update=True)
    trial_end = row.data.get("trial_end")
    if trial_end and int(trial_end) - TRIAL_WILL_END_BEFORE <= now:
        row.private["trial_will_end_sent"] = int(trial_end)
        saved = store.save(row)
        emit("customer.subscription.trial_will_end", saved, account=_event_account(row.account))


def subscription_create(
    *,
    customer: str,
    line_items: list[JSON],
    payment_method: str,
    subscription_data: JSON,
    account: str,
) -> JSON:
    """Checkout's subscription mode: the subscription and its first (open, or paid when a
    trial makes it zero) invoice; the caller pays it with the card from the page."""
    p: JSON = {
        "customer": customer,
        "items": [
            {"price": item["price"]["id"], "quantity": item.get("quantity")}
            if not _metered(item["price"])
            else {"price": item["price"]["id"]}
            for item in line_items
        ],
        "metadata": subscription_data.get("metadata"),
        "application_fee_percent": subscription_data.get("application_fee_percent"),
        "transfer_data": subscription_data.get("transfer_data") or None,
        "on_behalf_of": subscription_data.get("on_behalf_of"),
        "trial_period_days": subscription_data.get("trial_period_days"),
        "trial_end": subscription_data.get("trial_end"),
        "description": subscription_data.get("description"),
        "payment_behavior": "default_incomplete",
    }
    if p["transfer_data"]:
        p["transfer_data"] = {"destination": p["transfer_data"]["destination"]}
    sub = create_subscription(p, account=account, attempt=False, inline_prices=True)
    store.update(sub["id"], {"default_payment_method": payment_method}, object_type="subscription")
    return store.get(sub["id"])


# --- after payments -----------------------------------------------------------------------------
def _set_status(row: SandboxObject, status: str, **changes: Any) -> JSON:
    sub = row.data
    before = {"status": sub["status"]}
    for key, _value in changes.items():
        before[key] = copy.deepcopy(sub.get(key))
    sub["status"] = status
    sub.update(changes)
    saved = store.save(row)
    emit(
        "customer.subscription.updated",
        saved,
        account=_event_account(row.account),
        previous_attributes=before,
    )
    return saved


def after_invoice_paid(invoice: JSON) -> None:
    """An invoice of the subscription was paid: ``incomplete`` / ``past_due`` / ``unpaid``
    become ``active`` once nothing else is left open; the card is saved when asked."""
    sub_id = invoices._sub_id(invoice)
    if not sub_id:
        return
    row = store.get_row(sub_id, object_type="subscription", for_update=True)
    sub = row.data
    if payments_pm := _paid_with(invoice):
        save = (sub.get("payment_settings") or {}).get("save_default_payment_method")
        if save == "on_subscription" and not sub.get("default_payment_method"):
            before = {"default_payment_method": None}
            sub["default_payment_method"] = payments_pm
            _attach(payments_pm, sub["customer"])
            saved = store.save(row)
            emit(
                "customer.subscription.updated",
                saved,
                account=_event_account(row.account),
                previous_attributes=before,
            )
    if sub["status"] not in ("incomplete", "past_due", "unpaid"):
        return
    still_open = (
        store.queryset("invoice", account=None)
        .filter(data__parent__subscription_details__subscription=sub_id, data__status="open")
        .exclude(pk=invoice["id"])
        .exists()
    )
    if still_open and sub["status"] != "incomplete":
        return
    _set_status(row, "active")


def _paid_with(invoice: JSON) -> str | None:
    row = SandboxObject.objects.filter(pk=invoice.get("id")).first()
    pi_id = row.private.get("payment_intent") if row is not None else None
    if not pi_id:
        return None
    pi = SandboxObject.objects.filter(pk=pi_id).first()
    return (
        str(pi.data.get("payment_method"))
        if pi is not None and pi.data.get("payment_method")
        else None
    )


def _attach(pm_id: str, customer: str) -> None:
    row = (
        SandboxObject.objects.select_for_update().filter(pk=pm_id, object="payment_method").first()
    )
    if row is not None and not row.data.get("customer"):
        row.data["customer"] = customer
        store.save(row)


def after_invoice_failed(invoice: JSON, *, last: bool) -> None:
    sub_id = invoices._sub_id(invoice)
    if not sub_id or invoice["billing_reason"] == "subscription_create":
        return  # the first invoice: the subscription stays incomplete
    row = store.get_row(sub_id, object_type="subscription", for_update=True)
    sub = row.data
    if sub["status"] in ENDED:
        return
    if last:
        outcome = invoices.after_retries()
        if outcome == "cancel":
            invoices.invoice_mark_uncollectible(invoice["id"])
            subscription_cancel(sub_id, account=None, reason="payment_failed")
            return
        if outcome == "unpaid" and sub["status"] != "unpaid":
            _set_status(row, "unpaid")
            return
    if sub["status"] in ("active", "trialing"):
        _set_status(row, "past_due")


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


# --- cancel -------------------------------------------------------------------------------------
def subscription_cancel(
    sub_id: str,
    *,
    account: str | None,
    reason: str = "cancellation_requested",
    prorate: bool = False,
    invoice_now: bool = False,
    details: JSON | None = None,
) -> JSON:
    row = store.get_row(
        sub_id, object_type="subscription", account=account, for_update=True, param="id"
    )
    sub = row.data
    if sub["status"] in ENDED:
        raise invalid_request(
            f"No such subscription: '{sub_id}'", status=404, code="resource_missing", param="id"
        )
    now = clock.now()
    if prorate and sub["status"] != "trialing":
        for item in sub["items"]["data"]:
            for it, amount, text in invoices.proration_amounts(sub, item, None, at=now):
                invoices.invoice_item_create(sub, it, amount, text, at=now, account=row.account)
    if invoice_now:
        start, _ = _period(sub)
        has_metered = any(_metered(i["price"]) for i in sub["items"]["data"])
        if has_metered or invoices.pending_items(sub, account=row.account):
            final = invoices.invoice_create(
                sub_id,
                period_start=start,
                period_end=now,
                reason="subscription_update",
                usage=(start, now),
                invoice_period=(start, now),
                licensed=False,
            )
            if final["status"] == "open":
                invoices.invoice_pay(final["id"])
        row = store.get_row(sub_id, object_type="subscription", for_update=True)
        sub = row.data
    # Open invoices of a canceled subscription stay open (to be paid, voided or marked
    # uncollectible) but are no longer retried automatically.
    for inv in store.queryset("invoice", account=None).filter(
        data__parent__subscription_details__subscription=sub_id, data__status="open"
    ):
        inv.data["next_payment_attempt"] = None
        inv.data["auto_advance"] = False
        store.save(inv)
    details = dict(details or {})
    sub.update(
        status="canceled",
        canceled_at=now,
        ended_at=now,
        cancellation_details={
            "comment": details.get("comment"),
            "feedback": details.get("feedback"),
            "feedback_option": None,
            "reason": reason,
        },
    )
    saved = store.save(row)
    emit("customer.subscription.deleted", saved, account=_event_account(row.account))
    return saved


# --- item changes and prorations ----------------------------------------------------------------
def _apply_items(
    row: SandboxObject, specs: list[JSON], *, behavior: str, at: int, account: str
) -> tuple[list[str], bool]:
    """Apply ``items`` of an update to the subscription row (not saved): returns the ids of
    the proration invoice items created and whether the billing cycle was reset."""
    sub = row.data
    current = {item["id"]: item for item in sub["items"]["data"]}
    start, end = _period(sub)
    new_items = [copy.deepcopy(item) for item in sub["items"]["data"]]
    changes: list[tuple[JSON | None, JSON | None]] = []
    for index, raw in enumerate(specs):
        spec = dict(raw)
        param = f"items[{index}]"
        item_id = spec.get("id")
        if item_id and item_id not in current:
            raise invalid_request(
                f"No such subscription item: '{item_id}'", param=f"{param}[id]", status=400
            )
        if spec.get("deleted"):
            if not item_id:
                raise invalid_request("Deleting an item needs its id.", param=f"{param}[id]")
            new_items = [i for i in new_items if i["id"] != item_id]
            changes.append((current[item_id], None))
            continue
        if item_id:
            old = current[item_id]
            target = next(i for i in new_items if i["id"] == item_id)
            if spec.get("price") or spec.get("price_data"):
                price = _resolve_price(spec, param=param, account=account)
                target["price"] = price
                target["plan"] = _plan(price)
            if spec.get("quantity") is not None:
                if _metered(target["price"]):
                    raise invalid_request(
                        "Quantity should not be specified where usage_type is `metered`.",
                        param=f"{param}[quantity]",
                    )
                target["quantity"] = int(spec["quantity"])
            if _metered(target["price"]):
                target["quantity"] = None
            elif target.get("quantity") is None:
                target["quantity"] = 1
            if isinstance(spec.get("metadata"), dict):
                target["metadata"] = store.merge_metadata(target.get("metadata"), spec["metadata"])
            if (target["price"]["id"], target.get("quantity")) != (
                old["price"]["id"],
                old.get("quantity"),
            ):
                changes.append((old, target))
            continue
        price = _resolve_price(spec, param=param, account=account)
        added = _item(sub["id"], price, spec.get("quantity"), (start, end), spec.get("metadata"))
        new_items.append(added)
        changes.append((None, added))
    if not new_items:
        raise invalid_request(
            "A subscription must have at least one item; cancel it instead.", param="items"
        )
    currency = {i["price"]["currency"] for i in new_items}
    if currency != {sub["currency"]}:
        raise invalid_request(
            "All prices on a subscription must have the same `currency` as the subscription.",
            param="items",
        )
    intervals = {
        (i["price"]["recurring"]["interval"], i["price"]["recurring"]["interval_count"])
        for i in new_items
    }
    if len(intervals) != 1:
        raise invalid_request(
            "All prices on a subscription must have the same billing interval.", param="items"
        )
    if len({i["price"]["id"] for i in new_items}) != len(new_items):
        raise invalid_request(
            "Cannot add multiple subscription items with the same price.", param="items"
        )
    (interval, count) = next(iter(intervals))
    reset = (interval, int(count)) != _interval(sub)
    created: list[str] = []
    trialing = sub["status"] == "trialing"
    if behavior != "none" and not trialing:
        for old, new in changes:
            for item, amount, text in invoices.proration_amounts(
                sub, old, None if reset else new, at=at
            ):
                ii = invoices.invoice_item_create(sub, item, amount, text, at=at, account=account)
                created.append(ii["id"])
    if reset and not trialing:
        new_end = add_interval(at, interval, int(count))
        for item in new_items:
            item["current_period_start"], item["current_period_end"] = at, new_end
        sub["billing_cycle_anchor"] = at
        if sub.get("cancel_at_period_end"):
            sub["cancel_at"] = new_end
    sub["items"]["data"] = new_items
    return created, reset and not trialing


def _change_items(
    row: SandboxObject, p: JSON, *, account: str
) -> tuple[JSON | None, StripeError | None]:
    """Apply ``items`` and invoice as ``proration_behavior`` says (``always_invoice``, or a
    billing cycle reset): returns the immediate invoice (if any) and a payment error."""
    behavior = p.get("proration_behavior") or "create_prorations"
    at = _proration_date(row.data, p)
    _, reset = _apply_items(row, list(p["items"]), behavior=behavior, at=at, account=account)
    store.save(row)
    if not (reset or behavior == "always_invoice"):
        return None, None
    start, end = _period(row.data)
    pending = invoices.pending_items(row.data, account=row.account)
    if not reset and not pending:
        return None, None
    invoice = invoices.invoice_create(
        row.id,
        period_start=start,
        period_end=end,
        reason="subscription_update",
        invoice_period=(at, at),
        licensed=reset,
    )
    if invoice["status"] != "open" or p.get("payment_behavior") == "default_incomplete":
        return invoice, None
    invoice, error = invoices.invoice_pay(invoice["id"])
    return invoice, error


def _proration_date(sub: JSON, p: JSON) -> int:
    now = clock.now()
    if p.get("proration_date") in (None, ""):
        return now
    at = int(p["proration_date"])
    start, end = _period(sub)
    if not start <= at <= end:
        raise invalid_request(
            "proration_date must be within the subscription's current billing period.",
            param="proration_date",
        )
    return at


# --- preview ------------------------------------------------------------------------------------
def preview(p: JSON, *, account: str) -> JSON:
    """``POST /v1/invoices/create_preview``: the invoice a change would produce, computed by
    applying it inside a savepoint that is rolled back. With ``create_prorations`` (or no
    change) it is the next renewal invoice (pending prorations first, then the next period);
    with ``always_invoice`` or a new interval, the invoice the update would charge now."""
    if (
        p.get("invoice_items")
        or p.get("discounts")
        or p.get("schedule")
        or p.get("schedule_details")
    ):
        raise invalid_request(
            "The sandbox previews subscription invoices only (no invoice_items, discounts or "
            "schedules).",
        )
    details = dict(p.get("subscription_details") or {})
    sid = transaction.savepoint_create()
    try:
        return _preview(p, details, account=account)
    finally:
        transaction.savepoint_rollback(sid)


def _preview(p: JSON, details: JSON, *, account: str) -> JSON:
    preview_id = new_id("upcoming_in")
    if not p.get("subscription"):
        if not p.get("customer") or not details.get("items"):
            raise invalid_request(
                "Missing required param: subscription (or customer with "
                "subscription_details[items]).",
                param="subscription",
                code="parameter_missing",
            )
        sub = create_subscription(
            {
                "customer": p["customer"],
                "items": details["items"],
                "trial_end": details.get("trial_end"),
                "payment_behavior": "default_incomplete",
                "metadata": details.get("metadata"),
            },
            account=account,
            attempt=False,
        )
        invoice = store.get(sub["latest_invoice"], object_type="invoice")
        return _as_preview(invoice, preview_id)
    row = store.get_row(
        str(p["subscription"]),
        object_type="subscription",
        account=account,
        param="subscription",
        for_update=True,
    )
    if p.get("customer") and p["customer"] != row.data["customer"]:
        raise invalid_request(
            "The subscription does not belong to this customer.", param="customer"
        )
    if row.data["status"] in ENDED:
        raise invalid_request(
            "No upcoming invoices for a canceled subscription.", code="invoice_upcoming_none"
        )
    behavior = details.get("proration_behavior") or "create_prorations"
    reset = False
    if details.get("items"):
        at = _proration_date(row.data, details)
        _, reset = _apply_items(
            row, list(details["items"]), behavior=behavior, at=at, account=account
        )
        store.save(row)
        if reset or behavior == "always_invoice":
            start, end = _period(row.data)
            pending = [
                (copy.deepcopy(ii.data), ii.private["subscription_item"])
                for ii in invoices.pending_items(row.data, account=row.account)
            ]
            data = invoices.build(
                row.data,
                reason="subscription_update",
                period=(start, end),
                usage=None,
                invoice_period=(at, at),
                pending=pending,
                invoice_id=preview_id,
                licensed=reset,
            )
            return _as_preview(data, preview_id)
    if details.get("cancel_at_period_end") or row.data.get("cancel_at_period_end"):
        raise invalid_request(
            "No upcoming invoices: the subscription is set to cancel at the end of its period.",
            code="invoice_upcoming_none",
        )
    return _as_preview(next_invoice(row.data, preview_id=preview_id), preview_id)


def next_invoice(sub: JSON, *, preview_id: str) -> JSON:
    """The renewal invoice as it stands: pending items, the next period, usage so far."""
    start, end = _period(sub)
    interval, count = _interval(sub)
    pending = [
        (copy.deepcopy(ii.data), ii.private["subscription_item"])
        for ii in invoices.pending_items(sub, account=None)
    ]
    trialing = sub["status"] == "trialing"
    return invoices.build(
        sub,
        reason="upcoming",
        period=(end, add_interval(end, interval, count)),
        usage=None if trialing else (start, end),
        invoice_period=(start, end),
        pending=pending,
        invoice_id=preview_id,
    )


def _as_preview(invoice: JSON, preview_id: str) -> JSON:
    data = copy.deepcopy(invoice)
    data["id"] = preview_id
    data["created"] = clock.now()
    for line in data["lines"]["data"]:
        line["invoice"] = preview_id
    data["lines"]["url"] = f"/v1/invoices/{preview_id}/lines"
    data["hosted_invoice_url"] = None
    data["status"] = "draft"
    data["number"] = None
    data["billing_reason"] = (
        "upcoming" if data["billing_reason"] != "subscription_update" else data["billing_reason"]
    )
    data["status_transitions"] = {
        "finalized_at": None,
        "marked_uncollectible_at": None,
        "paid_at": None,
        "voided_at": None,
    }
    data["amount_paid"] = 0
    data["attempt_count"] = 0
    data["attempted"] = False
    data["next_payment_attempt"] = None
    customer = invoices._customer(data["customer"]) or {}
    balance = int(customer.get("balance") or 0)
    applied = int(data["total"]) + balance
    data["starting_balance"] = balance
    data["amount_due"] = max(applied, 0)
    data["amount_remaining"] = max(applied, 0)
    data["ending_balance"] = min(applied, 0) if balance or applied < 0 else 0
    return data


# --- the clock ----------------------------------------------------------------------------------
def renew_due() -> None:
    """Clock job: trial warnings and ends, renewals, scheduled cancellations, expired incomplete
    subscriptions, paused collection resuming, ``invoice.upcoming``; then the invoices' own work
    (drafts finalized after an hour, retries)."""
    now = clock.now()
    soon = now + max(invoices.upcoming_days() * DAY, TRIAL_WILL_END_BEFORE)
    due = (
        Q(data__status="incomplete")
        | Q(data__items__data__0__current_period_end__lte=soon)
        | Q(data__trial_end__lte=soon)
        | Q(data__cancel_at__lte=now)
        | Q(data__pause_collection__resumes_at__lte=now)
    )
    qs = store.queryset("subscription", account=None).filter(
        Q(data__status__in=[*LIVE, "incomplete"]) & due
    )
    for row in qs.only("id").order_by("created", "seq"):
        with transaction.atomic():
            _advance_one(row.id, now)
    invoices.advance_due()


def _advance_one(sub_id: str, now: int) -> None:
    for _ in range(400):
        row = store.get_row(sub_id, object_type="subscription", for_update=True)
        sub = row.data
        status = sub["status"]
        if status == "incomplete":
            if int(sub["created"]) + INCOMPLETE_EXPIRES <= now:
                _expire_incomplete(row)
            return
        if status not in LIVE:
            return
        pause = sub.get("pause_collection")
        if pause and pause.get("resumes_at") and int(pause["resumes_at"]) <= now:
            before = {"pause_collection": copy.deepcopy(pause)}
            sub["pause_collection"] = None
            saved = store.save(row)
            emit(
                "customer.subscription.updated",
                saved,
                account=_event_account(row.account),
                previous_attributes=before,
            )
            continue
        trial_end = sub.get("trial_end")
        if status == "trialing" and trial_end:
            if int(trial_end) - TRIAL_WILL_END_BEFORE <= now and row.private.get(
                "trial_will_end_sent"
            ) != int(trial_end):
                row.private["trial_will_end_sent"] = int(trial_end)
                saved = store.save(row)
                emit(
                    "customer.subscription.trial_will_end",
                    saved,
                    account=_event_account(row.account),
                )
                continue
            if int(trial_end) <= now:
                _end_trial(row)
                continue
            return
        start, end = _period(sub)
        cancel_at = sub.get("cancel_at")
        if cancel_at and int(cancel_at) <= min(now, end):
            _cancel_scheduled(row, at=int(cancel_at))
            return
        days = invoices.upcoming_days()
        if (
            days
            and end - days * DAY <= now < end
            and row.private.get("upcoming_sent") != end
            and not cancel_at
        ):
            row.private["upcoming_sent"] = end
            store.save(row)
            upcoming = next_invoice(sub, preview_id=new_id("upcoming_in"))
            emit(
                "invoice.upcoming",
                _as_preview(upcoming, upcoming["id"]),
                account=_event_account(row.account),
            )
            continue
        if end > now:
            return
        _renew(row, start, end)


def _renew(row: SandboxObject, start: int, end: int) -> None:
    """The period ended: the next one starts, its invoice is a draft for an hour, and Stripe
    says the subscription cycled with ``customer.subscription.updated`` (``previous_attributes``:
    the items' old periods and ``latest_invoice``), as its support page on telling a cycle from
    webhooks describes. Without it an integration only hears of the new period an hour later,
    when the invoice is paid."""
    sub = row.data
    before = copy.deepcopy(sub)
    interval, count = _interval(sub)
    new_end = add_interval(end, interval, count)
    for item in sub["items"]["data"]:
        item["current_period_start"], item["current_period_end"] = end, new_end
    store.save(row)
    invoices.invoice_create(
        row.id,
        period_start=end,
        period_end=new_end,
        reason="subscription_cycle",
        usage=(start, end),
        invoice_period=(start, end),
        finalize_at=end + invoices.FINALIZE_DELAY,
    )
    after = store.get(row.id)
    emit(
        "customer.subscription.updated",
        after,
        account=_event_account(row.account),
        previous_attributes=store.diff(before, after),
    )


def _end_trial(row: SandboxObject) -> None:
    sub = row.data
    trial_end = int(sub["trial_end"])
    missing = invoices.default_payment_method(sub) is None
    behavior = sub["trial_settings"]["end_behavior"]["missing_payment_method"]
    if missing and behavior == "cancel":
        subscription_cancel(row.id, account=None, reason="cancellation_requested")
        return
    if missing and behavior == "pause":
        saved = _set_status(row, "paused")
        emit("customer.subscription.paused", saved, account=_event_account(row.account))
        return
    interval, count = _interval(sub)
    new_end = add_interval(trial_end, interval, count)
    for item in sub["items"]["data"]:
        item["current_period_start"], item["current_period_end"] = trial_end, new_end
    _set_status(row, "active")
    invoices.invoice_create(
        row.id,
        period_start=trial_end,
        period_end=new_end,
        reason="subscription_cycle",
        usage=None,
        invoice_period=(trial_end, trial_end),
        finalize_at=trial_end + invoices.FINALIZE_DELAY,
    )


def _cancel_scheduled(row: SandboxObject, *, at: int) -> None:
    """``cancel_at`` reached: a final invoice for metered usage and pending prorations (Stripe
    collects them at the end of the period), then canceled."""
    sub = row.data
    start, end = _period(sub)
    usage_end = min(at, end)
    usage_lines = invoices.period_lines(
        sub, period=(start, end), usage=(start, usage_end), licensed=False
    )
    if any(line["amount"] for line in usage_lines) or invoices.pending_items(
        sub, account=row.account
    ):
        final = invoices.invoice_create(
            row.id,
            period_start=start,
            period_end=usage_end,
            reason="subscription_cycle",
            usage=(start, usage_end),
            invoice_period=(start, usage_end),
            licensed=False,
        )
        if final["status"] == "open":
            invoices.invoice_pay(final["id"])
    subscription_cancel(row.id, account=None, reason="cancellation_requested")


def _expire_incomplete(row: SandboxObject) -> None:
    latest = row.data.get("latest_invoice")
    if latest:
        inv = store.get(latest, object_type="invoice")
        if inv["status"] == "open":
            invoices.invoice_void(latest)
    row = store.get_row(row.id, object_type="subscription", for_update=True)
    now = clock.now()
    _set_status(row, "incomplete_expired", ended_at=now)


clock.register_job(renew_due, name="sandbox.subscriptions.renew_due")


# --- routes -------------------------------------------------------------------------------------
@route("POST", "/v1/subscriptions", params=SubscriptionCreateParams)
def create(req: Request) -> JSON:
    return create_subscription(dict(req.params), account=req.account)


@route("GET", "/v1/subscriptions/{id}", params=SubscriptionRetrieveParams)
def retrieve(req: Request) -> JSON:
    return store.get(req.args["id"], object_type="subscription", account=req.account, param="id")


@route("GET", "/v1/subscriptions", params=SubscriptionListParams)
def list_(req: Request) -> JSON:
    qs = store.queryset("subscription", account=req.account)
    status = req.params.get("status")
    if status == "ended":
        qs = qs.filter(data__status__in=list(ENDED))
    elif status and status != "all":
        qs = qs.filter(data__status=status)
    elif not status:
        qs = qs.exclude(data__status__in=list(ENDED))
    if req.params.get("customer"):
        qs = qs.filter(data__customer=req.params["customer"])
    if req.params.get("price"):
        wanted = req.params["price"]
        ids = [
            row.id
            for row in qs.only("id", "data")
            if any(item["price"]["id"] == wanted for item in row.data["items"]["data"])
        ]
        qs = qs.filter(pk__in=ids)
    return store.list_response(qs, req.params, url="/v1/subscriptions")


@route("GET", "/v1/subscription_items", params=SubscriptionItemListParams)
def items_list(req: Request) -> JSON:
    sub = store.get(
        req.params["subscription"],
        object_type="subscription",
        account=req.account,
        param="subscription",
    )
    items = sub["items"]["data"]
    return store.list_of(
        items[: int(req.params.get("limit") or 10)],
        url="/v1/subscription_items",
        has_more=len(items) > int(req.params.get("limit") or 10),
    )


@route("GET", "/v1/subscription_items/{id}", params=SubscriptionItemRetrieveParams)
def item_retrieve(req: Request) -> JSON:
    for row in store.queryset("subscription", account=req.account):
        for item in row.data["items"]["data"]:
            if item["id"] == req.args["id"]:
                return dict(item)
    raise invalid_request(
        f"No such subscription item: '{req.args['id']}'",
        status=404,
        code="resource_missing",
        param="id",
    )


ENDED_UPDATABLE = {"metadata", "cancellation_details", "expand"}


@route("POST", "/v1/subscriptions/{id}", params=SubscriptionUpdateParams)
def update(req: Request) -> JSON:
    p = dict(req.params)
    _check_not_emulated(p)
    row = store.get_row(
        req.args["id"], object_type="subscription", account=req.account, for_update=True, param="id"
    )
    before = copy.deepcopy(row.data)
    sub = row.data
    if sub["status"] in ENDED and set(p) - ENDED_UPDATABLE:
        raise invalid_request(
            "A canceled subscription can only update its cancellation_details and metadata.",
        )
    if "metadata" in p:
        sub["metadata"] = store.merge_metadata(sub.get("metadata"), p["metadata"])
    if "description" in p:
        sub["description"] = p["description"] or None
    if isinstance(p.get("cancellation_details"), dict):
        cd = sub.get("cancellation_details") or {}
        cd.update(
            {
                k: p["cancellation_details"].get(k)
                for k in ("comment", "feedback")
                if k in p["cancellation_details"]
            }
        )
        sub["cancellation_details"] = cd
    if p.get("default_payment_method"):
        sub["default_payment_method"] = _payment_method_for(
            sub["customer"],
            str(p["default_payment_method"]),
            account=req.account,
            param="default_payment_method",
        )
    elif p.get("default_payment_method") == "":
        sub["default_payment_method"] = None
    if (
        "cancel_at_period_end" in p
        and "cancel_at" in p
        and p["cancel_at"] not in ("", None)
        and p["cancel_at_period_end"]
    ):
        raise invalid_request(
            "You may only specify one of these parameters: cancel_at, cancel_at_period_end.",
            param="cancel_at",
        )
    if "cancel_at_period_end" in p:
        flag = bool(p["cancel_at_period_end"])
        sub["cancel_at_period_end"] = flag
        sub["cancel_at"] = _period(sub)[1] if flag else None
        if flag:
            sub["cancellation_details"] = {
                **(sub.get("cancellation_details") or {}),
                "reason": "cancellation_requested",
            }
        else:
            sub["cancellation_details"] = {
                "comment": None,
                "feedback": None,
                "feedback_option": None,
                "reason": None,
            }
    if "cancel_at" in p:
        value = p["cancel_at"]
        if value in ("", None):
            sub["cancel_at"] = None
            sub["cancel_at_period_end"] = False
        else:
            at = int(value)
            if at <= clock.now():
                raise invalid_request("cancel_at must be in the future.", param="cancel_at")
            sub["cancel_at"] = at
            sub["cancel_at_period_end"] = at == _period(sub)[1]
    if "pause_collection" in p:
        pause = p["pause_collection"]
        if pause in ("", None):
            sub["pause_collection"] = None
        else:
            behavior = pause.get("behavior")
            if behavior not in ("keep_as_draft", "mark_uncollectible", "void"):
                raise invalid_request(
                    "Invalid pause_collection[behavior]: must be one of keep_as_draft, "
                    "mark_uncollectible or void",
                    param="pause_collection[behavior]",
                )
            resumes_at = pause.get("resumes_at")
            if resumes_at not in (None, "") and int(resumes_at) <= clock.now():
                raise invalid_request(
                    "pause_collection[resumes_at] must be in the future.",
                    param="pause_collection[resumes_at]",
                )
            sub["pause_collection"] = {
                "behavior": behavior,
                "resumes_at": int(resumes_at) if resumes_at not in (None, "") else None,
            }
    if "application_fee_percent" in p:
        transfer = sub.get("transfer_data")
        sub["application_fee_percent"] = _check_fee(p, account=req.account, transfer=transfer)
    if "trial_end" in p and sub["status"] == "trialing":
        if p["trial_end"] == "now":
            sub["trial_end"] = clock.now()
        else:
            end = _trial_end({"trial_end": p["trial_end"]}, clock.now())
            sub["trial_end"] = end
            for item in sub["items"]["data"]:
                item["current_period_end"] = end
    elif "trial_end" in p and p["trial_end"] != "now":
        raise invalid_request(
            "The sandbox changes trial_end only on a trialing subscription.", param="trial_end"
        )
    store.save(row)
    error: StripeError | None = None
    if p.get("items"):
        if sub["status"] not in LIVE and sub["status"] != "incomplete":
            raise invalid_request(
                f"You cannot change the items of a subscription that is {sub['status']}.",
                param="items",
            )
        _invoice, error = _change_items(row, p, account=req.account)
        if error is not None and p.get("payment_behavior") == "error_if_incomplete":
            raise StripeError(
                error.message,
                status=error.status,
                type=error.type,
                code=error.code,
                decline_code=error.decline_code,
            )
    row = store.get_row(row.id, object_type="subscription", for_update=True)
    sub = row.data
    if (
        sub["status"] == "trialing"
        and sub.get("trial_end")
        and int(sub["trial_end"]) <= clock.now()
    ):
        row.private["trial_will_end_sent"] = int(sub["trial_end"])
        store.save(row)
        saved = store.get(row.id)
        emit("customer.subscription.trial_will_end", saved, account=_event_account(row.account))
        _end_trial(row)
        latest = store.get(row.id)["latest_invoice"]
        if latest and store.get(latest)["status"] == "draft":
            invoices.open_draft(latest)
    after = store.get(row.id)
    previous = store.diff(before, after)
    if previous:
        emit(
            "customer.subscription.updated",
            after,
            account=_event_account(row.account),
            previous_attributes=previous,
        )
    if "pause_collection" in previous and row.data.get("pause_collection") is None:
        pass
    return after


@route("DELETE", "/v1/subscriptions/{id}", params=SubscriptionCancelParams)
def cancel(req: Request) -> JSON:
    p = req.params
    return subscription_cancel(
        req.args["id"],
        account=req.account,
        prorate=bool(p.get("prorate")),
        invoice_now=bool(p.get("invoice_now")),
        details=p.get("cancellation_details")
        if isinstance(p.get("cancellation_details"), dict)
        else None,
    )


@route("POST", "/v1/subscriptions/{id}/resume", params=SubscriptionResumeParams)
def resume(req: Request) -> JSON:
    p = req.params
    row = store.get_row(
        req.args["id"], object_type="subscription", account=req.account, for_update=True, param="id"
    )
    sub = row.data
    if sub["status"] != "paused":
        raise invalid_request(
            "Only a paused subscription can be resumed (this one is "
            f"{sub['status']}); to stop a scheduled cancellation set cancel_at_period_end=false.",
        )
    anchor = p.get("billing_cycle_anchor") or {}
    if anchor.get("type") not in (None, "now"):
        raise invalid_request(
            "The sandbox resumes with billing_cycle_anchor[type]=now only.",
            param="billing_cycle_anchor[type]",
        )
    on_success = p.get("payment_behavior") == "resume_on_payment_success"
    now = clock.now()
    interval, count = _interval(sub)
    new_end = add_interval(now, interval, count)
    for item in sub["items"]["data"]:
        item["current_period_start"], item["current_period_end"] = now, new_end
    sub["billing_cycle_anchor"] = now
    store.save(row)
    invoice = invoices.invoice_create(
        row.id,
        period_start=now,
        period_end=new_end,
        reason="subscription_cycle",
        invoice_period=(now, now),
    )
    error = None
    if invoice["status"] == "open":
        invoice, error = invoices.invoice_pay(invoice["id"])
    if on_success and error is not None:
        raise StripeError(
            error.message,
            status=error.status,
            type=error.type,
            code=error.code,
            decline_code=error.decline_code,
        )
    row = store.get_row(row.id, object_type="subscription", for_update=True)
    status = "active" if invoice["status"] == "paid" else "past_due"
    saved = _set_status(row, status)
    emit("customer.subscription.resumed", saved, account=_event_account(row.account))
    return saved


# --- control page ------------------------------------------------------------------------------
def _control_panel(request: Any) -> JSON:
    from sandbox import display

    rows = []
    for row in store.queryset("subscription", account=None).order_by("-created", "-seq")[:25]:
        sub = row.data
        item = sub["items"]["data"][0]
        amount = sum(
            int(i["price"]["unit_amount"] or 0) * int(i.get("quantity") or 0)
            for i in sub["items"]["data"]
        )
        latest = (
            SandboxObject.objects.filter(pk=sub.get("latest_invoice")).first()
            if sub.get("latest_invoice")
            else None
        )
        rows.append(
            {
                "id": sub["id"],
                "customer": sub["customer"],
                "status": sub["status"],
                "cancel_at_period_end": sub.get("cancel_at_period_end"),
                "amount": display.money(amount, sub["currency"]),
                "next": display.date(item["current_period_end"]) if sub["status"] in LIVE else "",
                "invoice_status": latest.data["status"] if latest else "",
                "invoice_url": latest.data.get("hosted_invoice_url") if latest else None,
            }
        )
    return {
        "subscriptions": rows,
        "retry_days": ", ".join(str(d) for d in invoices.retry_days()),
        "after_retries": invoices.after_retries(),
    }


register_control_panel(
    "subscriptions", "Subscriptions", "sandbox/panels/subscriptions.html", _control_panel, order=30
)
