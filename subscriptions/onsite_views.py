"""Views of subscribing on our own page (``CHECKOUT_UI=elements``): the Subscribe button's
on-site branch, the page with the Payment Element (first payment, a trial's card, or an open
renewal invoice), one click with a saved card, and the return page. Parse, call one service,
render. Another buyer's subscription is a 404."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from buyers import customers
from marketplace import stripe_gateway
from marketplace.errors import PaymentError, UserFacingError
from marketplace.stripe_gateway import GatewayError
from subscriptions import onsite, selectors
from subscriptions.models import Subscription


def _see_other(url: str) -> HttpResponseRedirect:
    response = HttpResponseRedirect(url)
    response.status_code = 303
    return response


def pay_url(sub: Subscription) -> str:
    return reverse("subscriptions:pay", args=[sub.pk])


def _return_url(sub: Subscription) -> str:
    return settings.SITE_URL + reverse("subscriptions:pay_return", args=[sub.pk])


def _detail(sub: Subscription) -> str:
    return reverse("subscriptions:detail", args=[sub.pk])


def _own(request: HttpRequest, pk: int) -> Subscription:
    sub = selectors.buyer_subscription(buyer=request.user, subscription_id=pk)
    if sub is None:
        raise Http404("No such subscription")
    return sub


def subscribe(request: HttpRequest, plan_id: int) -> HttpResponse:
    """The Subscribe button with the on-site checkout: our subscription and its Stripe
    subscription (incomplete or trialing), then our page (303). Called by
    ``views.subscribe`` (login and POST already checked)."""
    try:
        sub = onsite.subscribe(buyer=request.user, plan_id=plan_id)
    except UserFacingError as exc:
        messages.error(request, exc.message)
        return _see_other(request.META.get("HTTP_REFERER") or reverse("subscriptions:list"))
    except GatewayError as exc:
        messages.error(
            request,
            exc.message
            if exc.retryable
            else "Our payment provider refused this; please try again.",
        )
        return _see_other(request.META.get("HTTP_REFERER") or reverse("subscriptions:list"))
    return _see_other(pay_url(sub))


@login_required
@require_GET
def pay(request: HttpRequest, pk: int) -> HttpResponse:
    """Our page: the Payment Element for the open invoice (subscribing, or a failed renewal)
    or for a trial's card, and the buyer's saved cards for one click. Only the client secret
    of the subscription's own intent reaches the page."""
    sub = _own(request, pk)
    try:
        step = onsite.pay_step(buyer=request.user, subscription_id=sub.pk)
    except (GatewayError, PaymentError):
        messages.error(request, "Our payment provider could not be reached; please try again.")
        return render(
            request, "subscriptions/onsite_pay.html", {"sub": sub, "unavailable": True}, status=503
        )
    sub = step.subscription
    if not step.kind:
        if sub.status == Subscription.Status.INCOMPLETE_EXPIRED:
            messages.info(
                request,
                "This subscription was not paid in time and was closed: nothing was charged. "
                "You can subscribe again from the plans.",
            )
        elif sub.status in Subscription.ENDED or sub.status == Subscription.Status.PENDING:
            messages.info(request, "There is nothing to pay for this subscription.")
        else:
            messages.info(request, "Nothing to pay: your subscription is up to date.")
        return _see_other(_detail(sub))
    try:
        cards, default = customers.saved_cards(user=request.user)  # type: ignore[arg-type]
    except (GatewayError, PaymentError):
        cards, default = [], ""
    cards.sort(key=lambda card: card.id != default)
    js = stripe_gateway.stripe_js_config()
    context = {
        "sub": sub,
        "step": step,
        "cards": cards,
        "default_card": default,
        "attempt": uuid.uuid4().hex,
        "error": request.GET.get("failed") and request.session.pop("subscription_pay_error", ""),
        "stripe_js": js,
        "config": {
            "publishableKey": js.publishable_key,
            "clientSecret": step.client_secret,
            "kind": step.kind,
            "returnUrl": _return_url(sub),
        },
    }
    return render(request, "subscriptions/onsite_pay.html", context)


@login_required
@require_POST
def pay_saved_card(request: HttpRequest, pk: int) -> HttpResponse:
    """One click with a saved card. With ``Accept: application/json`` (the page's script)
    answers the intent's status (and its client secret when the bank asks the buyer to
    authenticate, for ``handleNextAction``); without a script, redirects."""
    sub = _own(request, pk)
    wants_json = "application/json" in request.headers.get("Accept", "")
    try:
        result = onsite.pay_with_saved_card(
            buyer=request.user,
            subscription_id=sub.pk,
            payment_method_id=request.POST.get("payment_method", "")[:255],
            return_url=_return_url(sub),
            attempt=request.POST.get("attempt", "")[:40] or uuid.uuid4().hex,
        )
    except customers.CardNotFound as exc:
        raise Http404("No such card") from exc
    except (UserFacingError, GatewayError) as exc:
        message = getattr(exc, "message", "") or "The payment did not go through."
        if wants_json:
            return JsonResponse({"status": "error", "error": message}, status=402)
        messages.error(request, message)
        return _see_other(pay_url(sub))
    param = "setup_intent" if result.client_secret.startswith("seti_") else "payment_intent"
    intent_id = result.client_secret.split("_secret_")[0]
    done = f"{_return_url(sub)}?{param}={intent_id}"
    if result.status == "requires_action":
        if wants_json:
            return JsonResponse(
                {"status": result.status, "clientSecret": result.client_secret, "next": done}
            )
        messages.info(request, "Your bank asks you to confirm this payment: use the card form.")
        return _see_other(pay_url(sub))
    if wants_json:
        return JsonResponse({"status": result.status, "next": done})
    return _see_other(done)


@login_required
@require_GET
def pay_return(request: HttpRequest, pk: int) -> HttpResponse:
    """``return_url`` of ``confirmPayment`` / ``confirmSetup`` (and of one click): Stripe is
    re-read; a decline goes back to the page with the bank's message, to try again."""
    sub = _own(request, pk)
    try:
        result = onsite.pay_result(
            buyer=request.user,
            subscription_id=sub.pk,
            payment_intent_id=request.GET.get("payment_intent", "")[:255],
            setup_intent_id=request.GET.get("setup_intent", "")[:255],
        )
    except onsite.SubscriptionNotFound as exc:
        raise Http404("No such payment") from exc
    except GatewayError as exc:
        if exc.http_status == 404:
            raise Http404("No such payment") from exc
        messages.info(request, "We are confirming your payment with Stripe; this page updates.")
        return _see_other(_detail(sub))
    except (PaymentError, UserFacingError):
        messages.info(request, "We are confirming your payment with Stripe; this page updates.")
        return _see_other(_detail(sub))
    if result.outcome == "failed":
        request.session["subscription_pay_error"] = result.message
        return _see_other(pay_url(sub) + "?failed=1")
    if result.outcome == "done":
        messages.success(request, result.message)
    else:
        messages.info(request, result.message)
    return _see_other(_detail(sub))
