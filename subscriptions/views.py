"""Views of subscriptions: parse, call one service or selector, render. Buyers' pages read
through ``buyer_*`` selectors and sellers' through ``seller_*`` ones: another person's id is a
404."""

from __future__ import annotations

import contextlib

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from buyers.aftersale.forms import DeclineForm
from marketplace.errors import UserFacingError
from marketplace.stripe_gateway import GatewayError
from sellers.selectors import seller_for_user
from subscriptions import onsite, onsite_views, selectors, services
from subscriptions.forms import PlanForm, UsageCsvForm, UsageForm
from subscriptions.models import Subscription

MAX_CSV_BYTES = 1_000_000


def _see_other(url: str) -> HttpResponseRedirect:
    response = HttpResponseRedirect(url)
    response.status_code = 303
    return response


def _stripe_down(request: HttpRequest, exc: GatewayError) -> None:
    messages.error(
        request,
        exc.message if exc.retryable else "Our payment provider refused this; please try again.",
    )


# --- Buyers ---------------------------------------------------------------------------------------


@require_GET
def plans(request: HttpRequest, pk: int) -> HttpResponse:
    """A subscription listing's plans, each with its Subscribe button."""
    listing = selectors.public_listing(listing_id=pk)
    if listing is None:
        raise Http404("No such listing")
    return render(
        request,
        "subscriptions/plans.html",
        {"listing": listing, "plans": selectors.listing_plans(listing_id=pk)},
    )


@login_required
@require_POST
def subscribe(request: HttpRequest, pk: int) -> HttpResponse:
    """Our subscription, then Stripe Checkout in subscription mode (303); with the on-site
    checkout (``CHECKOUT_UI=elements``), our own page with the Payment Element."""
    plan_id = pk
    if onsite.enabled():
        return onsite_views.subscribe(request, plan_id)
    try:
        sub = services.subscription_start(buyer=request.user, plan_id=plan_id)
    except UserFacingError as exc:
        messages.error(request, exc.message)
        return _see_other(request.META.get("HTTP_REFERER") or reverse("subscriptions:list"))
    except GatewayError as exc:
        _stripe_down(request, exc)
        return _see_other(reverse("subscriptions:list"))
    return _see_other(sub.checkout_url)


@login_required
@require_GET
def success(request: HttpRequest) -> HttpResponse:
    """Stripe's success_url: the subscription is confirmed with Stripe and shown at once."""
    sub = selectors.buyer_checkout(buyer=request.user, session_id=request.GET.get("session_id", ""))
    if sub is not None:
        with contextlib.suppress(GatewayError, UserFacingError):  # else the webhooks bring it
            sub = services.subscription_confirm_checkout(subscription=sub)
        if sub.status in (Subscription.Status.TRIALING, Subscription.Status.ACTIVE):
            if sub.status == Subscription.Status.TRIALING and sub.trial_end:
                until = date_format(timezone.localtime(sub.trial_end), "j F Y")
                note = f"Your free trial of {sub.plan.listing.title} runs until {until}."
            else:
                note = f"You subscribe to {sub.plan.listing.title}: thank you."
            messages.success(request, note)
            return _see_other(reverse("subscriptions:detail", args=[sub.pk]))
    messages.success(request, "Thank you: your subscription starts as soon as Stripe confirms it.")
    return _see_other(reverse("subscriptions:list"))


@login_required
@require_GET
def subscription_list(request: HttpRequest) -> HttpResponse:
    subs = list(selectors.buyer_subscriptions(buyer=request.user)[:200])
    return render(request, "subscriptions/list.html", {"subscriptions": subs})


def _buyer_sub(request: HttpRequest, pk: int) -> Subscription:
    sub = selectors.buyer_subscription(buyer=request.user, subscription_id=pk)
    if sub is None:
        raise Http404("No such subscription")
    return sub


@login_required
@require_GET
def subscription_detail(request: HttpRequest, pk: int) -> HttpResponse:
    sub = _buyer_sub(request, pk)
    asked = list(selectors.invoice_refund_requests(subscription=sub)[:24])
    return render(
        request,
        "subscriptions/detail.html",
        {
            "sub": sub,
            "invoices": list(selectors.subscription_invoices(subscription=sub)[:24]),
            "refund_requests": asked,
            "waiting": {r.invoice_id for r in asked if r.status == r.Status.OPEN},
            "other_plans": selectors.switchable_plans(subscription=sub) if sub.is_live else [],
            "pay_onsite": onsite.enabled(),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def change_plan(request: HttpRequest, pk: int) -> HttpResponse:
    """GET ?plan=N: the proration preview; POST plan, proration_date: confirm the change."""
    sub = _buyer_sub(request, pk)
    detail = reverse("subscriptions:detail", args=[sub.pk])
    source = request.POST if request.method == "POST" else request.GET
    raw_plan = str(source.get("plan", ""))
    if not raw_plan.isdigit():
        messages.error(request, "Choose a plan.")
        return _see_other(detail)
    try:
        if request.method == "POST":
            raw_date = str(request.POST.get("proration_date", ""))
            if not raw_date.isdigit():
                raise UserFacingError("This price preview is too old: please look at it again.")
            services.subscription_change_plan(
                buyer=request.user,
                subscription_id=sub.pk,
                plan_id=int(raw_plan),
                proration_date=int(raw_date),
            )
            messages.success(request, "Your plan is changed.")
            return _see_other(detail)
        preview = services.subscription_change_preview(
            buyer=request.user, subscription_id=sub.pk, plan_id=int(raw_plan)
        )
    except UserFacingError as exc:
        messages.error(request, exc.message)
        return _see_other(detail)
    except GatewayError as exc:
        _stripe_down(request, exc)
        return _see_other(detail)
    return render(request, "subscriptions/change.html", {"sub": sub, "preview": preview})


def _manage(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    sub = _buyer_sub(request, pk)
    detail = reverse("subscriptions:detail", args=[sub.pk])
    try:
        if action == "cancel":
            services.subscription_set_cancel(
                buyer=request.user, subscription_id=sub.pk, cancel=True
            )
            messages.success(request, "Your subscription ends at the end of the paid period.")
        elif action == "resume":
            services.subscription_set_cancel(
                buyer=request.user, subscription_id=sub.pk, cancel=False
            )
            messages.success(request, "Your subscription continues.")
        else:
            services.subscription_cancel_now(buyer=request.user, subscription_id=sub.pk)
            messages.success(request, "Your subscription is canceled.")
    except UserFacingError as exc:
        messages.error(request, exc.message)
    except GatewayError as exc:
        _stripe_down(request, exc)
    return _see_other(detail)


@login_required
@require_POST
def cancel(request: HttpRequest, pk: int) -> HttpResponse:
    return _manage(request, pk, "cancel")


@login_required
@require_POST
def resume(request: HttpRequest, pk: int) -> HttpResponse:
    return _manage(request, pk, "resume")


@login_required
@require_POST
def cancel_now(request: HttpRequest, pk: int) -> HttpResponse:
    return _manage(request, pk, "cancel_now")


@login_required
@require_POST
def portal(request: HttpRequest, pk: int) -> HttpResponse:
    """Stripe's customer portal (update the card, see invoices), back to this page."""
    sub = _buyer_sub(request, pk)
    try:
        url = services.subscription_portal_url(buyer=request.user, subscription_id=sub.pk)
    except (UserFacingError, GatewayError) as exc:
        messages.error(request, getattr(exc, "message", "The customer portal is not available."))
        return _see_other(reverse("subscriptions:detail", args=[sub.pk]))
    return _see_other(url)


# --- Sellers --------------------------------------------------------------------------------------


def _seller(request: HttpRequest):  # type: ignore[no-untyped-def]
    seller = seller_for_user(user=request.user)
    if seller is None:
        raise Http404("You have no shop yet.")
    return seller


@login_required
@require_GET
def seller_home(request: HttpRequest) -> HttpResponse:
    """The seller's subscribers, MRR and churn, and their subscription plans."""
    seller = _seller(request)
    return render(
        request,
        "subscriptions/seller.html",
        {
            "figures": selectors.seller_figures(seller=seller),
            "subscribers": list(selectors.seller_subscribers_listed(seller=seller)[:500]),
            "plans": list(selectors.seller_plans(seller=seller)),
            "csv_form": UsageCsvForm(),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def plan_new(request: HttpRequest, pk: int) -> HttpResponse:
    seller = _seller(request)
    listing = selectors.seller_listing(seller=seller, listing_id=pk)
    if listing is None:
        raise Http404("No such listing")
    form = PlanForm(request.POST or None, currency=listing.currency)
    if request.method == "POST" and form.is_valid():
        try:
            services.plan_create(seller=seller, listing_id=listing.pk, data=form.to_input())
        except UserFacingError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            messages.success(request, "Plan added: buyers can subscribe from the listing.")
            return _see_other(reverse("subscriptions:seller"))
    return render(
        request,
        "subscriptions/plan_form.html",
        {
            "form": form,
            "listing": listing,
            "plans": list(selectors.seller_plans(seller=seller, listing_id=listing.pk)),
        },
        status=400 if request.method == "POST" else 200,
    )


@login_required
@require_http_methods(["GET", "POST"])
def plan_edit(request: HttpRequest, pk: int) -> HttpResponse:
    seller = _seller(request)
    plan = selectors.seller_plan(seller=seller, plan_id=pk)
    if plan is None:
        raise Http404("No such plan")
    form = PlanForm(request.POST or None, currency=plan.currency, plan=plan)
    if request.method == "POST" and form.is_valid():
        try:
            services.plan_update(
                seller=seller,
                plan_id=plan.pk,
                data=form.to_input(),
                is_active=form.cleaned_data.get("is_active", False),
            )
        except UserFacingError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            messages.success(request, "Plan saved. Current subscribers keep their price.")
            return _see_other(reverse("subscriptions:seller"))
    return render(
        request,
        "subscriptions/plan_form.html",
        {"form": form, "listing": plan.listing, "plan": plan, "plans": []},
        status=400 if request.method == "POST" else 200,
    )


@login_required
@require_http_methods(["GET", "POST"])
def subscriber(request: HttpRequest, pk: int) -> HttpResponse:
    """One subscriber: their invoices and usage; POST records usage."""
    seller = _seller(request)
    sub = selectors.seller_subscriber(seller=seller, subscription_id=pk)
    if sub is None:
        raise Http404("No such subscriber")
    form = UsageForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            services.usage_record(
                seller=seller,
                subscription_id=sub.pk,
                quantity=form.cleaned_data["quantity"],
                note=form.cleaned_data.get("note") or "",
            )
        except UserFacingError as exc:
            form.add_error("quantity" if exc.field == "quantity" else None, exc.message)
            status = 400
        else:
            messages.success(request, "Usage recorded.")
            return _see_other(reverse("subscriptions:subscriber", args=[sub.pk]))
    elif request.method == "POST":
        status = 400
    return render(
        request,
        "subscriptions/subscriber.html",
        {
            "sub": sub,
            "form": form,
            "usage": list(selectors.subscriber_usage(subscription=sub)[:200]),
            "invoices": list(selectors.subscription_invoices(subscription=sub)[:24]),
            "refund_requests": list(selectors.invoice_refund_requests(subscription=sub)[:24]),
            "decline": DeclineForm(),
        },
        status=status,
    )


@login_required
@require_POST
def usage_correct(request: HttpRequest, pk: int, record_pk: int) -> HttpResponse:
    seller = _seller(request)
    sub = selectors.seller_subscriber(seller=seller, subscription_id=pk)
    if (
        sub is None
        or not selectors.subscriber_usage(subscription=sub).filter(pk=record_pk).exists()
    ):
        raise Http404("No such usage record")
    try:
        services.usage_correct(
            seller=seller, record_id=record_pk, quantity=request.POST.get("quantity", "")
        )
        messages.success(request, "Usage corrected.")
    except UserFacingError as exc:
        messages.error(request, exc.message)
    except GatewayError as exc:
        _stripe_down(request, exc)
    return _see_other(reverse("subscriptions:subscriber", args=[sub.pk]))


@login_required
@require_POST
def usage_csv(request: HttpRequest) -> HttpResponse:
    seller = _seller(request)
    form = UsageCsvForm(request.POST, request.FILES)
    if not form.is_valid():
        messages.error(request, "Choose a CSV file.")
        return _see_other(reverse("subscriptions:seller"))
    upload = form.cleaned_data["file"]
    if upload.size > MAX_CSV_BYTES:
        messages.error(request, "The file is too big (at most 1 MB).")
        return _see_other(reverse("subscriptions:seller"))
    try:
        text = upload.read().decode("utf-8-sig")
    except UnicodeDecodeError:
        messages.error(request, "The file is not a UTF-8 CSV file.")
        return _see_other(reverse("subscriptions:seller"))
    result = services.usage_import_csv(seller=seller, rows=text.splitlines())
    if result.recorded:
        messages.success(request, f"{result.recorded} usage record(s) saved.")
    for error in result.errors[:20]:
        messages.error(request, error)
    return _see_other(reverse("subscriptions:seller"))
