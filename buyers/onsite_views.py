"""Views of on-site payment: the payment page of a purchase (Stripe.js and the Payment Element),
its return page, one-click payment with a saved card, the buyer's Payment methods page, and the
seller accepting or declining an order. Parse, call one service, render."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from buyers import customers, selectors, services
from buyers.models import Order, Purchase
from buyers.services import onsite
from marketplace import stripe_gateway
from marketplace.errors import PaymentError, UserFacingError
from marketplace.stripe_gateway import GatewayError


def _see_other(url: str) -> HttpResponseRedirect:
    response = HttpResponseRedirect(url)
    response.status_code = 303
    return response


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]  # login_required


def _after_payment_url(purchase: Purchase) -> str:
    orders = list(purchase.orders.order_by("pk").values_list("pk", flat=True))
    if len(orders) == 1:
        return reverse("buyers:order_detail", args=[orders[0]]) + "?confirming=1"
    return reverse("buyers:purchase_detail", args=[purchase.pk])


def payment_page_url(purchase: Purchase) -> str:
    return reverse("buyers:purchase_payment", args=[purchase.pk])


def _hosted_fallback_allowed(purchase: Purchase) -> bool:
    """Hosted Checkout is the way out when Stripe.js cannot load, except for purchases a
    seller accepts first (only the on-site page authorises without charging)."""
    return not purchase.needs_acceptance and not onsite.purchase_needs_acceptance(purchase)


@login_required
@require_GET
def purchase_payment(request: HttpRequest, pk: int) -> HttpResponse:
    """Our own payment page: summary, the Payment Element, "save this card", the buyer's saved
    cards for one click. Only the client secret of the purchase's intent reaches the page."""
    purchase = get_object_or_404(selectors.buyer_purchases(buyer=request.user), pk=pk)
    if purchase.checkout_session_id and purchase.checkout_url and purchase.is_payable:
        return _see_other(purchase.checkout_url)
    try:
        intent = onsite.purchase_payment_intent(purchase_id=purchase.pk, buyer=_user(request))
    except UserFacingError as exc:
        messages.error(request, exc.message)
        purchase.refresh_from_db()
        if purchase.status == Purchase.Status.PENDING:
            return render(
                request,
                "buyers/payment.html",
                {"purchase": purchase, "unavailable": True},
                status=503 if isinstance(exc, PaymentError) else 200,
            )
        return _see_other(_after_payment_url(purchase))
    purchase.refresh_from_db()
    try:
        cards, default = customers.saved_cards(user=_user(request))
    except (GatewayError, PaymentError):
        cards, default = [], ""
    cards.sort(key=lambda card: card.id != default)
    js = stripe_gateway.stripe_js_config()
    error = ""
    if intent.last_error is not None and request.GET.get("failed"):
        error = intent.last_error.message
    context = {
        "purchase": purchase,
        "orders": purchase.orders.select_related("seller").prefetch_related("lines"),
        "stripe_js": js,
        "cards": cards,
        "default_card": default,
        "attempt": uuid.uuid4().hex,
        "error": error,
        "hosted_fallback": _hosted_fallback_allowed(purchase),
        "accept_window_hours": int(settings.ORDER_ACCEPT_WINDOW.total_seconds() // 3600),
        "config": {
            "publishableKey": js.publishable_key,
            "clientSecret": intent.client_secret,
            "returnUrl": settings.SITE_URL
            + reverse("buyers:purchase_payment_return", args=[purchase.pk]),
            "saveCardUrl": reverse("buyers:purchase_payment_save_card", args=[purchase.pk]),
        },
    }
    return render(request, "buyers/payment.html", context)


@login_required
@require_POST
def purchase_payment_save_card(request: HttpRequest, pk: int) -> HttpResponse:
    """The Pay button's first step: record "save this card" on the intent (JSON)."""
    purchase = get_object_or_404(selectors.buyer_purchases(buyer=request.user), pk=pk)
    try:
        onsite.purchase_save_card_choice(
            purchase_id=purchase.pk,
            buyer=_user(request),
            save_card=request.POST.get("save") == "1",
            attempt=request.POST.get("attempt", "")[:40] or "x",
        )
    except (UserFacingError, GatewayError) as exc:
        return JsonResponse({"error": getattr(exc, "message", str(exc))}, status=409)
    return JsonResponse({"ok": True})


@login_required
@require_POST
def purchase_payment_saved_card(request: HttpRequest, pk: int) -> HttpResponse:
    """Pay with a saved card in one click. With ``Accept: application/json`` (the page's
    script) answers the intent's status (and, when the bank asks for authentication, the client
    secret for ``handleNextAction``); without a script, redirects."""
    purchase = get_object_or_404(selectors.buyer_purchases(buyer=request.user), pk=pk)
    wants_json = "application/json" in request.headers.get("Accept", "")
    return_url = settings.SITE_URL + reverse("buyers:purchase_payment_return", args=[purchase.pk])
    try:
        intent = onsite.purchase_pay_with_saved_card(
            purchase_id=purchase.pk,
            buyer=_user(request),
            payment_method_id=request.POST.get("payment_method", "")[:255],
            return_url=return_url,
            attempt=request.POST.get("attempt", "")[:40] or uuid.uuid4().hex,
        )
    except customers.CardNotFound as exc:
        raise Http404("No such card") from exc
    except (UserFacingError, GatewayError) as exc:
        message = getattr(exc, "message", "") or "The payment did not go through."
        if wants_json:
            return JsonResponse({"status": "error", "error": message}, status=402)
        messages.error(request, message)
        return _see_other(payment_page_url(purchase))
    done_url = f"{return_url}?payment_intent={intent.id}"
    if intent.status == "requires_action":
        if wants_json:
            return JsonResponse(
                {"status": intent.status, "clientSecret": intent.client_secret, "next": done_url}
            )
        messages.info(
            request, "Your bank asks you to confirm this payment: pay with the card form."
        )
        return _see_other(payment_page_url(purchase))
    if wants_json:
        return JsonResponse({"status": intent.status, "next": done_url})
    return _see_other(done_url)


@login_required
@require_GET
def purchase_payment_return(request: HttpRequest, pk: int) -> HttpResponse:
    """Where Stripe.js sends the buyer after confirming (``return_url``). The intent id in the
    URL is only a pointer: it must be the purchase's, and Stripe is re-read."""
    purchase = get_object_or_404(selectors.buyer_purchases(buyer=request.user), pk=pk)
    intent_id = request.GET.get("payment_intent", "")
    if not intent_id or intent_id != purchase.payment_intent_id:
        raise Http404("No such payment")
    try:
        onsite.payment_intent_sync(payment_intent_id=intent_id)
        purchase.refresh_from_db()
        intent = (
            stripe_gateway.payment_intent_retrieve(payment_intent_id=intent_id)
            if purchase.status == Purchase.Status.PENDING
            else None
        )
    except (GatewayError, UserFacingError):
        messages.info(request, "We are confirming your payment with Stripe; this page updates.")
        return _see_other(_after_payment_url(purchase))
    if intent is not None and intent.status == "requires_payment_method":
        message = intent.last_error.message if intent.last_error else ""
        messages.error(
            request,
            (message or "The payment did not go through.") + " Please try another card.",
        )
        return _see_other(payment_page_url(purchase) + "?failed=1")
    if purchase.status == Purchase.Status.AUTHORIZED:
        messages.success(
            request,
            "Your card is authorised, not charged: the seller accepts the order first. We email "
            "you when they do.",
        )
    return _see_other(_after_payment_url(purchase))


@login_required
@require_POST
def purchase_payment_hosted(request: HttpRequest, pk: int) -> HttpResponse:
    """The way out when Stripe.js cannot load: cancel the on-site intent (so the purchase can be
    paid only once) and continue on Stripe's hosted Checkout."""
    purchase = get_object_or_404(selectors.buyer_purchases(buyer=request.user), pk=pk)
    if not _hosted_fallback_allowed(purchase):
        messages.error(request, "This order can only be paid on this page.")
        return _see_other(payment_page_url(purchase))
    try:
        onsite.purchase_switch_to_hosted(purchase_id=purchase.pk, buyer=_user(request))
        url = services.purchase_checkout_url(purchase_id=purchase.pk)
    except UserFacingError as exc:
        messages.error(request, exc.message)
        return _see_other(reverse("buyers:purchase_detail", args=[purchase.pk]))
    return _see_other(url)


# --- Payment methods (the buyer's saved cards) --------------------------------------------------


@login_required
@require_GET
def payment_methods(request: HttpRequest) -> HttpResponse:
    """The buyer's saved cards (brand, last 4, expiry), the default first; add one."""
    try:
        cards, default = customers.saved_cards(user=_user(request))
    except (GatewayError, PaymentError):
        messages.error(request, "Our payment provider could not be reached; please try again.")
        cards, default = [], ""
    cards.sort(key=lambda card: card.id != default)
    return render(
        request,
        "buyers/payment_methods.html",
        {"cards": cards, "default_card": default},
    )


@login_required
@require_GET
def payment_methods_add(request: HttpRequest) -> HttpResponse:
    """Add a card without paying: a SetupIntent confirmed with ``stripe.confirmSetup``."""
    try:
        client_secret = customers.card_setup_start(
            user=_user(request), request_key=uuid.uuid4().hex
        )
    except (GatewayError, PaymentError):
        messages.error(request, "Our payment provider could not be reached; please try again.")
        return _see_other(reverse("buyers:payment_methods"))
    js = stripe_gateway.stripe_js_config()
    return render(
        request,
        "buyers/payment_method_add.html",
        {
            "stripe_js": js,
            "config": {
                "publishableKey": js.publishable_key,
                "clientSecret": client_secret,
                "returnUrl": settings.SITE_URL + reverse("buyers:payment_methods_added"),
            },
        },
    )


@login_required
@require_GET
def payment_methods_added(request: HttpRequest) -> HttpResponse:
    """``confirmSetup``'s return_url: re-read the SetupIntent (the buyer's own) from Stripe."""
    status = customers.card_setup_result(
        user=_user(request), setup_intent_id=request.GET.get("setup_intent", "")[:255]
    )
    if status == "succeeded":
        messages.success(request, "Your card is saved.")
    elif status:
        messages.error(request, "The card could not be saved; please try again or another card.")
    return _see_other(reverse("buyers:payment_methods"))


@login_required
@require_POST
def payment_method_default(request: HttpRequest, pm: str) -> HttpResponse:
    try:
        card = customers.card_set_default(user=_user(request), payment_method_id=pm)
    except customers.CardNotFound as exc:
        raise Http404("No such card") from exc
    except (GatewayError, PaymentError):
        messages.error(request, "Our payment provider could not be reached; please try again.")
    else:
        messages.success(request, f"{card.brand.title()} ending {card.last4} is now your default.")
    return _see_other(reverse("buyers:payment_methods"))


@login_required
@require_POST
def payment_method_remove(request: HttpRequest, pm: str) -> HttpResponse:
    try:
        card = customers.card_remove(user=_user(request), payment_method_id=pm)
    except customers.CardNotFound as exc:
        raise Http404("No such card") from exc
    except (GatewayError, PaymentError):
        messages.error(request, "Our payment provider could not be reached; please try again.")
    else:
        messages.success(request, f"{card.brand.title()} ending {card.last4} was removed.")
    return _see_other(reverse("buyers:payment_methods"))


# --- The seller accepts or declines -----------------------------------------------------------


def _seller_order(request: HttpRequest, pk: int) -> Order:
    seller = selectors.seller_for_user(request.user)
    if seller is None:
        raise Http404("Not a seller")
    return get_object_or_404(selectors.seller_orders(seller=seller), pk=pk)


@login_required
@require_POST
def sale_accept(request: HttpRequest, pk: int) -> HttpResponse:
    """Accept an order awaiting the seller: ``qty-<line id>`` fields give the units they can
    send (all when absent)."""
    order = _seller_order(request, pk)
    quantities: dict[int, int] = {}
    for line in order.lines.all():
        raw = request.POST.get(f"qty-{line.pk}")
        if raw is None or raw == "":
            continue
        if not raw.strip().isdigit():
            messages.error(request, f"Enter a whole number of units for {line.title}.")
            return _see_other(reverse("buyers:sale_detail", args=[order.pk]))
        quantities[line.pk] = int(raw.strip())
    try:
        result = onsite.order_accept(seller=order.seller, order_id=order.pk, quantities=quantities)
    except UserFacingError as exc:
        messages.error(request, exc.message)
    except (GatewayError, PaymentError):
        messages.error(request, "Our payment provider could not be reached; please try again.")
    else:
        messages.success(
            request,
            f"Order accepted: the buyer was charged {result.order.total}. Ship it when ready.",
        )
    return _see_other(reverse("buyers:sale_detail", args=[order.pk]))


@login_required
@require_POST
def sale_decline(request: HttpRequest, pk: int) -> HttpResponse:
    order = _seller_order(request, pk)
    try:
        onsite.order_decline(seller=order.seller, order_id=order.pk)
    except UserFacingError as exc:
        messages.error(request, exc.message)
    except (GatewayError, PaymentError):
        messages.error(request, "Our payment provider could not be reached; please try again.")
    else:
        messages.success(request, "Order declined: nothing was charged and the buyer was told.")
    return _see_other(reverse("buyers:sale_detail", args=[order.pk]))
