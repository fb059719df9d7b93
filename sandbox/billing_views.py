"""Hosted pages of the billing resources, each standing in for a Stripe-hosted page with the
SANDBOX banner: the hosted invoice page (``/sandbox/invoice/<in_…>/<token>/``: see an invoice,
pay an open one with a test card, 3-D Secure through the challenge page) and the customer portal
(``/sandbox/portal/<bps_…>/<token>/``: subscriptions, cancel at period end or take it back,
change the card, invoices, return)."""

from __future__ import annotations

import hmac
from typing import Any

from django import forms
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from sandbox import cards, clock, display, store
from sandbox.errors import StripeError
from sandbox.events import emit
from sandbox.models import SandboxObject
from sandbox.payment_views import buyer_message
from sandbox.resources import invoices, subscriptions

JSON = dict[str, Any]

TEST_CARDS = [
    ("4242424242424242", "succeeds"),
    ("4000000000000341", "attaches, then every charge is declined"),
    ("4000000000000002", "declined (generic_decline)"),
    ("4000002500003155", "asks for 3-D Secure"),
]


class CardForm(forms.Form):
    card_number = forms.CharField(label="Card number", max_length=23, initial="4242 4242 4242 4242")
    expiry = forms.RegexField(
        label="Expiry (MM / YY)",
        regex=r"^\s*(0[1-9]|1[0-2])\s*/\s*\d{2}\s*$",
        initial="12 / 34",
        error_messages={"invalid": "Enter the expiry as MM / YY."},
    )
    cvc = forms.RegexField(
        label="CVC",
        regex=r"^\d{3,4}$",
        initial="123",
        error_messages={"invalid": "Enter the 3 or 4 digits of the CVC."},
    )

    def clean_card_number(self) -> str:
        number = cards.normalize(self.cleaned_data["card_number"])
        if not cards.luhn_ok(number):
            raise forms.ValidationError(
                "Enter a valid card number (for example 4242 4242 4242 4242)."
            )
        return number

    def expiry_parts(self) -> tuple[int, int]:
        month, year = self.cleaned_data["expiry"].split("/")
        return int(month), 2000 + int(year)


def _row(object_id: str, object_type: str, token: str) -> SandboxObject:
    row = SandboxObject.objects.filter(pk=object_id, object=object_type).first()
    if row is None or not hmac.compare_digest(str(row.private.get("token", "")), token):
        raise Http404("No such page")
    return row


def _money(amount: int, currency: str) -> str:
    return display.money(int(amount), currency)


def _new_card(form: CardForm, customer: str, account: str) -> JSON:
    month, year = form.expiry_parts()
    pm = cards.payment_method_create(
        number=form.cleaned_data["card_number"], exp_month=month, exp_year=year, account=account
    )
    subscriptions.attach_card(pm["id"], customer)
    return store.get(pm["id"])


def _invoice_context(invoice: JSON, form: CardForm | None, error: str | None) -> JSON:
    currency = invoice["currency"]
    lines = [
        {
            "description": line["description"],
            "quantity": line.get("quantity"),
            "amount": _money(line["amount"], currency),
            "period": f"{display.date(line['period']['start'])} to {display.date(line['period']['end'])}",
        }
        for line in invoice["lines"]["data"]
    ]
    next_attempt = invoice.get("next_payment_attempt")
    receipt = None
    pi_id = invoices.payment_intent_of(invoice["id"]) if invoice["status"] == "paid" else None
    pi = SandboxObject.objects.filter(pk=pi_id).first() if pi_id else None
    if pi is not None and pi.data.get("latest_charge"):
        receipt = reverse("sandbox:receipt", args=[pi.data["latest_charge"]])
    return {
        "receipt": receipt,
        "invoice": invoice,
        "lines": lines,
        "total": _money(invoice["total"], currency),
        "amount_due": _money(invoice["amount_due"], currency),
        "amount_paid": _money(invoice["amount_paid"], currency),
        "created": display.date(invoice["created"]),
        "next_attempt": display.datetime(next_attempt) if next_attempt else None,
        "form": form or CardForm(),
        "error": error,
        "test_cards": TEST_CARDS,
    }


@require_http_methods(["GET", "POST"])
def invoice_page(request: HttpRequest, invoice_id: str, token: str) -> HttpResponse:
    row = _row(invoice_id, "invoice", token)
    invoice = row.data
    if request.method == "GET":
        return render(
            request, "sandbox/billing/invoice.html", _invoice_context(invoice, None, None)
        )
    if invoice["status"] != "open":
        return HttpResponseRedirect(request.path)  # paid meanwhile (a second click): show it
    form = CardForm(request.POST)
    if not form.is_valid():
        return render(
            request,
            "sandbox/billing/invoice.html",
            _invoice_context(invoice, form, None),
            status=400,
        )
    try:
        with transaction.atomic():
            pm = _new_card(form, invoice["customer"], row.account)
            paid, failure = invoices.invoice_pay(
                invoice_id,
                payment_method=pm["id"],
                off_session=False,
                return_url=request.build_absolute_uri(request.path),
            )
            if failure is None and paid["status"] == "paid":
                _make_default(invoice, pm["id"], row.account)
    except StripeError as exc:
        return render(
            request,
            "sandbox/billing/invoice.html",
            _invoice_context(store.get(invoice_id), form, exc.message),
            status=400,
        )
    if failure is not None:
        return render(
            request,
            "sandbox/billing/invoice.html",
            _invoice_context(store.get(invoice_id), form, buyer_message(failure)),
            status=402,
        )
    pi_id = invoices.payment_intent_of(invoice_id)
    pi = store.get(pi_id) if pi_id else None
    if pi is not None and pi["status"] == "requires_action":
        return HttpResponseRedirect(reverse("sandbox:authenticate", args=[pi["id"]]))
    return HttpResponseRedirect(request.path)


def _make_default(invoice: JSON, pm_id: str, account: str) -> None:
    """The card that paid a subscription's invoice on the hosted page pays its next ones."""
    sub_id = invoices._sub_id(invoice)
    if not sub_id:
        return
    sub, previous = store.update(
        sub_id, {"default_payment_method": pm_id}, object_type="subscription"
    )
    if previous:
        emit(
            "customer.subscription.updated",
            sub,
            account=account or None,
            previous_attributes=previous,
        )


# --- customer portal ----------------------------------------------------------------------------
def _portal_context(
    session: JSON, account: str, form: CardForm | None, message: str | None, error: str | None
) -> JSON:
    customer = store.get(session["customer"], object_type="customer")
    subs = []
    for row in (
        store.queryset("subscription", account=account)
        .filter(data__customer=customer["id"])
        .exclude(data__status__in=["canceled", "incomplete_expired"])
        .order_by("-created", "-seq")
    ):
        sub = row.data
        item = sub["items"]["data"][0]
        price = item["price"]
        recurring = price.get("recurring") or {}
        metered = recurring.get("usage_type") == "metered"
        subs.append(
            {
                "id": sub["id"],
                "name": invoices.product_name(price),
                "price": _money(price["unit_amount"] or 0, price["currency"])
                + (" per unit" if metered else "")
                + f" / {recurring.get('interval', 'month')}",
                "status": sub["status"],
                "cancel_at_period_end": sub.get("cancel_at_period_end"),
                "period_end": display.date(item["current_period_end"]),
                "trial_end": display.date(sub["trial_end"])
                if sub.get("trial_end") and sub["status"] == "trialing"
                else None,
            }
        )
    invoice_rows = (
        store.queryset("invoice", account=account)
        .filter(data__customer=customer["id"])
        .exclude(data__status="draft")
        .order_by("-created", "-seq")[:24]
    )
    invoice_list = [
        {
            "number": row.data.get("number") or row.id,
            "date": display.date(row.data["created"]),
            "amount": _money(row.data["total"], row.data["currency"]),
            "status": row.data["status"],
            "url": row.data.get("hosted_invoice_url"),
        }
        for row in invoice_rows
    ]
    pm_id = (customer.get("invoice_settings") or {}).get("default_payment_method")
    if not pm_id and subs:
        pm_id = store.get(subs[0]["id"]).get("default_payment_method")
    card = None
    if pm_id:
        pm_row = SandboxObject.objects.filter(pk=pm_id).first()
        card = (pm_row.data.get("card") if pm_row else None) or None
    return {
        "session": session,
        "customer": customer,
        "subscriptions": subs,
        "invoices": invoice_list,
        "card": card,
        "form": form or CardForm(),
        "message": message,
        "error": error,
        "test_cards": TEST_CARDS,
    }


@require_http_methods(["GET", "POST"])
def portal_page(request: HttpRequest, session_id: str, token: str) -> HttpResponse:
    row = _row(session_id, "billing_portal.session", token)
    session = row.data
    if int(row.private.get("expires_at") or 0) <= clock.now():
        return render(
            request, "sandbox/billing/portal_expired.html", {"session": session}, status=410
        )
    account = row.account
    if request.method == "GET":
        message = request.GET.get("done")
        messages = {
            "canceled": "Your subscription will end at the end of the period.",
            "renewed": "Your subscription will continue.",
            "card": "Your card was updated.",
        }
        return render(
            request,
            "sandbox/billing/portal.html",
            _portal_context(session, account, None, messages.get(message or ""), None),
        )
    action = request.POST.get("action", "")
    customer_id = session["customer"]
    if action in ("cancel", "renew"):
        sub_id = request.POST.get("subscription", "")
        sub_row = SandboxObject.objects.filter(
            pk=sub_id, object="subscription", account=account, data__customer=customer_id
        ).first()
        if sub_row is None:
            raise Http404("No such subscription")
        with transaction.atomic():
            _set_cancel_at_period_end(sub_id, action == "cancel", account)
        done = "canceled" if action == "cancel" else "renewed"
        return HttpResponseRedirect(f"{request.path}?done={done}")
    if action == "card":
        form = CardForm(request.POST)
        if not form.is_valid():
            return render(
                request,
                "sandbox/billing/portal.html",
                _portal_context(session, account, form, None, None),
                status=400,
            )
        with transaction.atomic():
            pm = _new_card(form, customer_id, account)
            _set_default_card(customer_id, pm["id"], account)
        return HttpResponseRedirect(f"{request.path}?done=card")
    return render(
        request,
        "sandbox/billing/portal.html",
        _portal_context(session, account, None, None, "Unknown action."),
        status=400,
    )


def _set_cancel_at_period_end(sub_id: str, flag: bool, account: str) -> None:
    row = store.get_row(sub_id, object_type="subscription", for_update=True)
    sub = row.data
    if sub["status"] in ("canceled", "incomplete_expired"):
        return
    before = {
        "cancel_at_period_end": sub.get("cancel_at_period_end"),
        "cancel_at": sub.get("cancel_at"),
        "cancellation_details": dict(sub.get("cancellation_details") or {}),
    }
    end = int(sub["items"]["data"][0]["current_period_end"])
    sub["cancel_at_period_end"] = flag
    sub["cancel_at"] = end if flag else None
    sub["cancellation_details"] = {
        "comment": None,
        "feedback": None,
        "feedback_option": None,
        "reason": "cancellation_requested" if flag else None,
    }
    if before["cancel_at_period_end"] == flag:
        return
    saved = store.save(row)
    emit(
        "customer.subscription.updated", saved, account=account or None, previous_attributes=before
    )


def _set_default_card(customer_id: str, pm_id: str, account: str) -> None:
    crow = store.get_row(customer_id, object_type="customer", for_update=True)
    settings = dict(crow.data.get("invoice_settings") or {})
    before = {"invoice_settings": dict(settings)}
    settings["default_payment_method"] = pm_id
    crow.data["invoice_settings"] = settings
    customer = store.save(crow)
    emit("customer.updated", customer, account=account or None, previous_attributes=before)
    for row in (
        store.queryset("subscription", account=account)
        .filter(data__customer=customer_id)
        .exclude(data__status__in=["canceled", "incomplete_expired"])
    ):
        sub, previous = store.update(
            row.id, {"default_payment_method": pm_id}, object_type="subscription"
        )
        if previous:
            emit(
                "customer.subscription.updated",
                sub,
                account=account or None,
                previous_attributes=previous,
            )
