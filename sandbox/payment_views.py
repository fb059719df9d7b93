"""Hosted pages of the payments resources: the Checkout page (``/sandbox/checkout/<cs_…>/``),
the 3D Secure challenge (``/sandbox/authenticate/<pi_…>/``) and charge receipts
(``/sandbox/receipts/<ch_…>/``). Each stands in for a Stripe-hosted page, with the SANDBOX banner."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django import forms
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from sandbox import display, sepa, store
from sandbox.errors import StripeError
from sandbox.models import SandboxObject
from sandbox.resources import checkout, payments, setup_intents

TEST_CARDS = [
    ("4242424242424242", "succeeds"),
    ("4000000000000002", "declined (generic_decline)"),
    ("4000000000009995", "declined (insufficient_funds)"),
    ("4000002500003155", "asks for 3D Secure"),
    ("4000000000000259", "succeeds, then disputed"),
    ("4000000000000077", "succeeds, funds available at once"),
]


def format_amount(amount: int, currency: str) -> str:
    return display.money(amount, currency)


class CardForm(forms.Form):
    email = forms.EmailField(label="Email")
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
    name = forms.CharField(label="Name on card", max_length=200, required=False)


class SepaForm(forms.Form):
    """SEPA Direct Debit on the hosted page: the account holder, the IBAN, the mandate."""

    email = forms.EmailField(label="Email")
    name = forms.CharField(label="Account holder name", max_length=200)
    iban = forms.CharField(label="IBAN", max_length=42, initial="DE89 3704 0044 0532 0130 00")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "sepa_%s")  # ids apart from the card form's on one page
        super().__init__(*args, **kwargs)

    def clean_iban(self) -> str:
        iban = sepa.normalize(self.cleaned_data["iban"])
        if not sepa.iban_ok(iban):
            raise forms.ValidationError(
                "Enter a valid IBAN (for example DE89 3704 0044 0532 0130 00)."
            )
        return iban


class ShippingForm(forms.Form):
    """The shipping address, when the session collects one (``shipping_address_collection``)."""

    name = forms.CharField(label="Ship to (full name)", max_length=200)
    line1 = forms.CharField(label="Address", max_length=200)
    line2 = forms.CharField(label="Address line 2", max_length=200, required=False)
    postal_code = forms.CharField(label="Postal code", max_length=20)
    city = forms.CharField(label="City", max_length=100)
    country = forms.ChoiceField(label="Country")

    def __init__(self, *args: Any, countries: list[str], method: str = "card", **kwargs: Any):
        kwargs.setdefault("prefix", "shipping")
        kwargs.setdefault("auto_id", f"{method}_ship_%s")
        super().__init__(*args, **kwargs)
        country = self.fields["country"]
        assert isinstance(country, forms.ChoiceField)
        country.choices = [(code, code) for code in countries]

    def details(self) -> dict[str, Any]:
        """``collected_information.shipping_details`` as Stripe shapes it."""
        data = self.cleaned_data
        return {
            "name": data["name"],
            "address": {
                "city": data["city"],
                "country": data["country"],
                "line1": data["line1"],
                "line2": data["line2"] or None,
                "postal_code": data["postal_code"],
                "state": None,
            },
        }


def _countries(session: dict[str, Any]) -> list[str] | None:
    collection = session.get("shipping_address_collection") or None
    return list(collection["allowed_countries"]) if collection else None


TEST_IBANS = [
    ("DE89370400440532013000", "succeeds after the delay"),
    ("DE62370400440532013001", "fails after the delay (insufficient_funds)"),
]


def _session_row(session_id: str) -> SandboxObject:
    row = SandboxObject.objects.filter(pk=session_id, object="checkout.session").first()
    if row is None:
        raise Http404("No such Checkout Session")
    return row


def _page_context(
    session: dict[str, Any],
    items: list[dict[str, Any]],
    form: CardForm | None,
    error: str | None,
    sepa_form: SepaForm | None = None,
    method: str = "card",
    shipping_form: ShippingForm | None = None,
) -> dict[str, Any]:
    types = session.get("payment_method_types") or ["card"]
    email = session.get("customer_email") or ""
    countries = _countries(session)
    shipping_forms: dict[str, ShippingForm | None] = {"card": None, "sepa_debit": None}
    if countries:
        for kind in shipping_forms:
            shipping_forms[kind] = (
                shipping_form
                if shipping_form is not None and kind == method
                else ShippingForm(countries=countries, method=kind)
            )
    return {
        "card_shipping_form": shipping_forms["card"],
        "sepa_shipping_form": shipping_forms["sepa_debit"],
        "allows_card": "card" in types,
        "allows_sepa": "sepa_debit" in types,
        "method": method,
        "sepa_form": sepa_form or SepaForm(initial={"email": email}),
        "mandate_text": sepa.MANDATE_TEXT,
        "test_ibans": TEST_IBANS,
        "session": session,
        "items": [
            {
                **item,
                "unit": format_amount(item["price"]["unit_amount"], item["currency"]),
                "total": format_amount(item["amount_total"], item["currency"]),
                "interval": _interval(item["price"]),
            }
            for item in items
        ],
        "total": format_amount(session["amount_total"], session["currency"]),
        **_subscription_terms(session),
        "form": form or CardForm(initial={"email": email}),
        "error": error,
        "test_cards": TEST_CARDS,
        "success_url": checkout.success_redirect(session) if session.get("success_url") else None,
    }


def _interval(price: dict[str, Any]) -> str:
    """A recurring price's billing interval as Checkout words it ("per month"); "" if one-time."""
    recurring = price.get("recurring") or {}
    if not recurring:
        return ""
    count = int(recurring.get("interval_count") or 1)
    unit = str(recurring.get("interval", ""))
    return f"per {unit}" if count == 1 else f"every {count} {unit}s"


def _subscription_terms(session: dict[str, Any]) -> dict[str, Any]:
    """What Stripe's Checkout page says in ``subscription`` mode: the free trial ("14 days
    free"), what is due today (nothing during a trial) and a button that starts the trial or
    subscribes rather than "Pay"."""
    if session.get("mode") != "subscription":
        return {"subscription_mode": False}
    private = _session_row(session["id"]).private
    days = (private.get("subscription_data") or {}).get("trial_period_days")
    due_today = 0 if days else int(session["amount_total"])
    return {
        "subscription_mode": True,
        "trial_days": int(days) if days else None,
        "due_today": format_amount(due_today, session["currency"]),
    }


# What Stripe's hosted pages tell the buyer, by error code, instead of the API's message (which
# is written for developers: "You can provide payment_method_data ...").
BUYER_MESSAGES = {
    "payment_intent_authentication_failure": (
        "We are unable to authenticate your payment method. Please choose a different payment "
        "method and try again."
    ),
}


def buyer_message(error: StripeError) -> str:
    """The words the hosted page shows the buyer for ``error``."""
    return BUYER_MESSAGES.get(error.code or "", error.message)


@require_http_methods(["GET", "POST"])
def checkout_page(request: HttpRequest, session_id: str) -> HttpResponse:
    row = _session_row(session_id)
    error = None
    if request.method == "GET":
        with transaction.atomic():
            session, items = checkout.session_for_page(session_id)
            row = store.get_row(session_id, object_type="checkout.session", for_update=True)
            error = row.private.pop("page_error", None)
            if error:
                store.save(row)
            pi = (
                store.get(session["payment_intent"], object_type="payment_intent")
                if session.get("payment_intent")
                else None
            )
        if session["status"] == "open" and pi and pi["status"] == "requires_action":
            return HttpResponseRedirect(reverse("sandbox:authenticate", args=[pi["id"]]))
        return render(
            request, "sandbox/checkout/page.html", _page_context(session, items, None, error)
        )
    posted = request.POST.copy()
    session, items = row.data, list(row.private["line_items"])
    if session["status"] == "complete":  # a second click on Pay: already paid
        return HttpResponseRedirect(checkout.success_redirect(session))
    if session.get("customer_email"):
        posted["email"] = session["customer_email"]
    method = "sepa_debit" if posted.get("method") == "sepa_debit" else "card"
    form: CardForm | None = None
    sepa_form: SepaForm | None = None
    if method == "sepa_debit":
        sepa_form = SepaForm(posted)
        valid = sepa_form.is_valid()
    else:
        form = CardForm(posted)
        valid = form.is_valid()
    countries = _countries(session)
    shipping_form = ShippingForm(posted, countries=countries, method=method) if countries else None
    if shipping_form is not None and not shipping_form.is_valid():
        valid = False
    if not valid:
        return render(
            request,
            "sandbox/checkout/page.html",
            _page_context(session, items, form, None, sepa_form, method, shipping_form),
            status=400,
        )
    shipping = shipping_form.details() if shipping_form is not None else None
    try:
        with transaction.atomic():
            if sepa_form is not None:
                session, pi, failure = checkout.pay(
                    session_id,
                    iban=sepa_form.cleaned_data["iban"],
                    email=sepa_form.cleaned_data["email"],
                    name=sepa_form.cleaned_data["name"],
                    shipping=shipping,
                )
            else:
                assert form is not None
                session, pi, failure = checkout.pay(
                    session_id,
                    number=form.cleaned_data["card_number"],
                    email=form.cleaned_data["email"],
                    name=form.cleaned_data["name"],
                    shipping=shipping,
                )
    except StripeError as exc:
        session, items = checkout.session_for_page(session_id)
        return render(
            request,
            "sandbox/checkout/page.html",
            _page_context(session, items, form, exc.message, sepa_form, method, shipping_form),
            status=402,
        )
    if failure is not None:
        return render(
            request,
            "sandbox/checkout/page.html",
            _page_context(
                session, items, form, buyer_message(failure), sepa_form, method, shipping_form
            ),
            status=402,
        )
    if pi is not None and pi["status"] == "requires_action":
        return HttpResponseRedirect(reverse("sandbox:authenticate", args=[pi["id"]]))
    return HttpResponseRedirect(checkout.success_redirect(session))


@require_http_methods(["GET", "POST"])
def authenticate(request: HttpRequest, intent_id: str) -> HttpResponse:
    """The 3D Secure challenge: approve or fail the authentication."""
    if intent_id.startswith("seti_"):
        return _authenticate_setup(request, intent_id)
    row = SandboxObject.objects.filter(pk=intent_id, object="payment_intent").first()
    if row is None:
        raise Http404("No such PaymentIntent")
    session_id = row.private.get("checkout_session")
    pi = row.data
    if request.method == "GET":
        if pi["status"] != "requires_action":
            if session_id:
                return HttpResponseRedirect(reverse("sandbox:checkout", args=[session_id]))
            return render(
                request,
                "sandbox/checkout/authenticate.html",
                {"pi": pi, "done": True, "amount": format_amount(pi["amount"], pi["currency"])},
            )
        return render(
            request,
            "sandbox/checkout/authenticate.html",
            {"pi": pi, "amount": format_amount(pi["amount"], pi["currency"])},
        )
    approve = request.POST.get("outcome") == "approve"
    try:
        with transaction.atomic():
            pi, failure = payments.intent_authenticate(intent_id, approve=approve)
            if session_id and failure is not None:
                srow = store.get_row(session_id, object_type="checkout.session", for_update=True)
                srow.private["page_error"] = buyer_message(failure)
                store.save(srow)
    except StripeError as exc:
        return render(
            request,
            "sandbox/checkout/authenticate.html",
            {"pi": pi, "error": exc.message, "amount": format_amount(pi["amount"], pi["currency"])},
            status=400,
        )
    if session_id:
        session = store.get(session_id, object_type="checkout.session")
        if session["status"] == "complete":
            return HttpResponseRedirect(checkout.success_redirect(session))
        return HttpResponseRedirect(reverse("sandbox:checkout", args=[session_id]))
    return_url = row.private.get("return_url")
    if return_url:
        query = urlencode(
            {
                "payment_intent": pi["id"],
                "payment_intent_client_secret": pi["client_secret"],
                "redirect_status": "succeeded" if failure is None else "failed",
            }
        )
        return HttpResponseRedirect(f"{return_url}{'&' if '?' in return_url else '?'}{query}")
    return render(
        request,
        "sandbox/checkout/authenticate.html",
        {"pi": pi, "done": True, "amount": format_amount(pi["amount"], pi["currency"])},
    )


def _authenticate_setup(request: HttpRequest, intent_id: str) -> HttpResponse:
    """The challenge of a SetupIntent (saving a card): back to its ``return_url`` with
    Stripe's ``setup_intent``, ``setup_intent_client_secret`` and ``redirect_status``."""
    row = SandboxObject.objects.filter(pk=intent_id, object="setup_intent").first()
    if row is None:
        raise Http404("No such SetupIntent")
    si = row.data
    if request.method == "GET" or si["status"] != "requires_action":
        done = si["status"] != "requires_action"
        return render(request, "sandbox/checkout/authenticate.html", {"pi": si, "done": done})
    with transaction.atomic():
        si, failure = setup_intents.setup_intent_authenticate(
            intent_id, approve=request.POST.get("outcome") == "approve"
        )
    return_url = row.private.get("return_url")
    if not return_url:
        return render(request, "sandbox/checkout/authenticate.html", {"pi": si, "done": True})
    query = urlencode(
        {
            "setup_intent": si["id"],
            "setup_intent_client_secret": si["client_secret"],
            "redirect_status": "succeeded" if failure is None else "failed",
        }
    )
    return HttpResponseRedirect(f"{return_url}{'&' if '?' in return_url else '?'}{query}")


@require_http_methods(["GET"])
def receipt(request: HttpRequest, charge_id: str) -> HttpResponse:
    row = SandboxObject.objects.filter(pk=charge_id, object="charge").first()
    if row is None:
        raise Http404("No such receipt")
    charge = row.data
    refunds = [
        {**r.data, "display": format_amount(r.data["amount"], r.data["currency"])}
        for r in store.queryset("refund", account=row.account).filter(data__charge=charge_id)
    ]
    card = (charge.get("payment_method_details") or {}).get("card") or {}
    return render(
        request,
        "sandbox/checkout/receipt.html",
        {
            "charge": charge,
            "card": card,
            "amount": format_amount(charge["amount"], charge["currency"]),
            "refunded": format_amount(charge["amount_refunded"], charge["currency"]),
            "refunds": refunds,
        },
    )
