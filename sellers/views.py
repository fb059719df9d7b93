"""Seller pages: start selling, onboarding links, the dashboard, listings. Thin: parse, call one
service or selector, render. Every object is reached through a selector scoped to the signed-in
seller, so another seller's ids answer 404."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import TypedDict

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.forms import Form
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.middleware import HtmxDetails

from marketplace.errors import UserFacingError
from marketplace.fees import FeeQuote
from marketplace.money import Money, price_input_error
from marketplace.stripe_gateway import GatewayError
from sellers import selectors, services
from sellers.countries import SUPPORTED_COUNTRIES
from sellers.fees import fee_quote
from sellers.forms import FeePreviewForm, ListingForm, ShopSettingsForm, StartSellingForm
from sellers.models import Category, Listing, Seller
from sellers.requirements import onboarding_banner


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


# The dashboard re-reads the Stripe account when the mirror is older than this, and always on
# return from Stripe's onboarding pages.
ACCOUNT_REFRESH_AFTER = timedelta(minutes=10)
LISTINGS_PER_PAGE = 50


def _stripe_failed(request: HttpRequest, exc: GatewayError, doing: str) -> None:
    retry = " Please try again." if exc.retryable else ""
    messages.error(request, f"We could not {doing}: {exc.message}{retry}")


def _own_seller(request: HttpRequest) -> Seller:
    """The signed-in user's seller profile; 404 when they have none."""
    seller = selectors.seller_for_user(user=request.user)
    if seller is None:
        raise Http404("You have no shop yet.")
    return seller


def _own_listing(seller: Seller, listing_id: int) -> Listing:
    """One of ``seller``'s own listings; 404 for anyone else's or a deleted one."""
    return get_object_or_404(selectors.seller_listings(seller=seller), pk=listing_id)


def _add_error(form: Form, exc: UserFacingError) -> None:
    form.add_error(exc.field if exc.field in form.fields else None, exc.message)


# --- Becoming a seller and onboarding ---------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def start(request: HttpRequest) -> HttpResponse:
    """ "Start selling": shop name, address, country, currency; then off to Stripe onboarding."""
    if selectors.seller_for_user(user=request.user) is not None:
        return redirect("sellers:dashboard")
    form = StartSellingForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            seller = services.seller_create(
                user=request.user,  # type: ignore[arg-type]  # login_required
                **form.cleaned_data,
            )
        except UserFacingError as exc:
            _add_error(form, exc)
        else:
            return _go_onboard(request, seller)
    return render(request, "sellers/start.html", {"form": form})


def _redirect_to_stripe(
    request: HttpRequest, make_url: Callable[[], str], *, action: str
) -> HttpResponse:
    """Send the browser to a Stripe-hosted page (a fresh link); on failure back to the
    dashboard with a message saying what could not be done."""
    try:
        url = make_url()
    except GatewayError as exc:
        _stripe_failed(request, exc, action)
        return redirect("sellers:dashboard")
    except UserFacingError as exc:
        messages.error(request, exc.message)
        return redirect("sellers:dashboard")
    return HttpResponseRedirect(url)


def _go_onboard(request: HttpRequest, seller: Seller) -> HttpResponse:
    return _redirect_to_stripe(
        request,
        lambda: services.seller_start_onboarding(seller=seller),
        action="set up payments with Stripe",
    )


@login_required
@require_POST
def onboarding(request: HttpRequest) -> HttpResponse:
    """Create the account if needed and continue onboarding on a fresh account link."""
    seller = _own_seller(request)
    return _go_onboard(request, seller)


@login_required
@require_GET
def onboarding_refresh(request: HttpRequest, account_id: str) -> HttpResponse:
    """Stripe's ``refresh_url``: the link expired or was used; make a new one (owner only)."""
    seller = selectors.seller_by_account_for_user(user=request.user, account_id=account_id)
    if seller is None:
        raise Http404("No such account.")
    return _redirect_to_stripe(
        request,
        lambda: services.seller_onboarding_link(seller=seller),
        action="reopen Stripe onboarding",
    )


@login_required
@require_POST
def onboarding_update(request: HttpRequest) -> HttpResponse:
    """Update details with Stripe (including what Stripe will need later)."""
    seller = _own_seller(request)
    return _redirect_to_stripe(
        request,
        lambda: services.seller_onboarding_link(seller=seller, update=True),
        action="open Stripe",
    )


@login_required
@require_POST
def stripe_dashboard(request: HttpRequest) -> HttpResponse:
    """Open the seller's Express dashboard through a fresh login link."""
    seller = _own_seller(request)
    return _redirect_to_stripe(
        request,
        lambda: services.seller_dashboard_login_link(seller=seller),
        action="open your Stripe dashboard",
    )


# --- Dashboard ----------------------------------------------------------------------------------


@login_required
@require_GET
def dashboard(request: HtmxHttpRequest) -> HttpResponse:
    """The seller's home: onboarding status (re-read from Stripe, never trusting the return
    redirect), listings with stock and status, and places for orders and balance."""
    seller = selectors.seller_for_user(user=request.user)
    if seller is None:
        return redirect("sellers:start")
    returned = request.GET.get("from") == "stripe"
    stale = seller.account_refreshed_at is None or (
        timezone.now() - seller.account_refreshed_at > ACCOUNT_REFRESH_AFTER
    )
    if (
        seller.stripe_account_id
        and seller.status != Seller.Status.DISCONNECTED
        and not request.htmx
        and (returned or stale)
    ):
        try:
            seller = services.seller_sync_account(seller=seller)
        except GatewayError as exc:
            messages.warning(
                request,
                f"We could not reach Stripe to refresh your account status ({exc.message}); "
                "what you see may be out of date.",
            )
    banner = onboarding_banner(seller)
    if request.htmx:
        return render(
            request, "sellers/dashboard.html#banner", {"seller": seller, "banner": banner}
        )
    listings = selectors.seller_listings(seller=seller)
    counts = listings.aggregate(
        published=Count("pk", filter=Q(status=Listing.Status.PUBLISHED)),
        total=Count("pk"),
    )
    page = Paginator(listings, LISTINGS_PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "sellers/dashboard.html",
        {
            "seller": seller,
            "banner": banner,
            "listings": page.object_list,
            "page": page,
            "counts": counts,
            "returned": returned,
            "country_name": SUPPORTED_COUNTRIES.get(seller.country, (seller.country, ""))[0],
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def shop_settings(request: HttpRequest) -> HttpResponse:
    seller = _own_seller(request)
    form = ShopSettingsForm(
        request.POST or None,
        initial={"display_name": seller.display_name, "default_currency": seller.default_currency},
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.seller_update_profile(seller=seller, **form.cleaned_data)
        except UserFacingError as exc:
            _add_error(form, exc)
        else:
            messages.success(request, "Shop settings saved.")
            return redirect("sellers:dashboard")
    return render(request, "sellers/settings.html", {"form": form, "seller": seller})


# --- Listings -----------------------------------------------------------------------------------


class ListingFields(TypedDict):
    title: str
    description: str
    category: Category | None
    price: Money
    stock: int | None
    accepts_orders_first: bool


def _listing_kwargs(form: ListingForm) -> ListingFields:
    data = form.cleaned_data
    return {
        "title": data["title"],
        "description": data.get("description", ""),
        "category": data.get("category"),
        "price": data["money"],
        "stock": data.get("stock"),
        "accepts_orders_first": bool(data.get("accepts_orders_first")),
    }


def _fee_quote_for(form: ListingForm, seller: Seller) -> FeeQuote | None:
    """The fee checkout will charge for one unit: the same ``fee_quote`` with the same inputs
    (price, seller, category) as ``buyers.services.order_create``."""
    money: Money | None = None
    category = None
    if form.is_bound:
        money = getattr(form, "cleaned_data", {}).get("money")
        category = getattr(form, "cleaned_data", {}).get("category")
    elif form.listing is not None:
        money = form.listing.price
        category = form.listing.category
    return fee_quote(amount=money, seller=seller, category=category) if money else None


@login_required
@require_http_methods(["GET", "POST"])
def listing_new(request: HttpRequest) -> HttpResponse:
    seller = _own_seller(request)
    if seller.status != Seller.Status.ACTIVE:
        raise PermissionDenied("Your shop cannot add listings now.")
    form = ListingForm(request.POST or None, request.FILES or None, seller=seller)
    if request.method == "POST" and form.is_valid():
        try:
            listing = services.listing_create(
                seller=seller, images=form.cleaned_data.get("images") or [], **_listing_kwargs(form)
            )
        except UserFacingError as exc:
            _add_error(form, exc)
        else:
            if request.POST.get("publish") and seller.can_sell:
                services.listing_publish(listing=listing)
                messages.success(request, f"“{listing.title}” is on sale.")
            else:
                messages.success(request, f"“{listing.title}” saved as a draft.")
            return redirect("sellers:dashboard")
    return render(
        request,
        "sellers/listing_form.html",
        {"form": form, "seller": seller, "listing": None, "quote": _fee_quote_for(form, seller)},
    )


@login_required
@require_http_methods(["GET", "POST"])
def listing_edit(request: HttpRequest, listing_id: int) -> HttpResponse:
    seller = _own_seller(request)
    listing = _own_listing(seller, listing_id)
    form = ListingForm(request.POST or None, request.FILES or None, seller=seller, listing=listing)
    if request.method == "POST" and form.is_valid():
        try:
            services.listing_update(
                listing=listing,
                new_images=form.cleaned_data.get("images") or [],
                remove_image_ids=[int(pk) for pk in form.cleaned_data.get("remove_images") or []],
                **_listing_kwargs(form),
            )
        except UserFacingError as exc:
            _add_error(form, exc)
        else:
            messages.success(request, f"“{form.cleaned_data['title']}” saved.")
            return redirect("sellers:dashboard")
    return render(
        request,
        "sellers/listing_form.html",
        {"form": form, "seller": seller, "listing": listing, "quote": _fee_quote_for(form, seller)},
    )


def _listing_action(request: HttpRequest, listing_id: int, action: str) -> HttpResponse:
    seller = _own_seller(request)
    listing = _own_listing(seller, listing_id)
    try:
        if action == "publish":
            services.listing_publish(listing=listing)
            messages.success(request, f"“{listing.title}” is on sale.")
        elif action == "pause":
            services.listing_pause(listing=listing)
            messages.success(request, f"“{listing.title}” is paused.")
        elif action == "unpause":
            services.listing_unpause(listing=listing)
            messages.success(request, f"“{listing.title}” is on sale again.")
    except UserFacingError as exc:
        messages.error(request, exc.message)
    return redirect("sellers:dashboard")


@login_required
@require_POST
def listing_publish(request: HttpRequest, listing_id: int) -> HttpResponse:
    return _listing_action(request, listing_id, "publish")


@login_required
@require_POST
def listing_pause(request: HttpRequest, listing_id: int) -> HttpResponse:
    return _listing_action(request, listing_id, "pause")


@login_required
@require_POST
def listing_unpause(request: HttpRequest, listing_id: int) -> HttpResponse:
    return _listing_action(request, listing_id, "unpause")


@login_required
@require_http_methods(["GET", "POST"])
def listing_delete(request: HttpRequest, listing_id: int) -> HttpResponse:
    """Ask, then soft-delete: the listing disappears but past orders keep pointing at it."""
    seller = _own_seller(request)
    listing = _own_listing(seller, listing_id)
    if request.method == "POST":
        services.listing_delete(listing=listing)
        messages.success(request, f"“{listing.title}” deleted.")
        return redirect("sellers:dashboard")
    return render(request, "sellers/listing_delete.html", {"listing": listing})


@login_required
@require_POST
def listing_image_delete(request: HttpRequest, listing_id: int, image_id: int) -> HttpResponse:
    seller = _own_seller(request)
    image = get_object_or_404(
        selectors.seller_listing_images(seller=seller, listing_id=listing_id), pk=image_id
    )
    services.listing_image_delete(image=image)
    messages.success(request, "Image removed.")
    return redirect("sellers:listing_edit", listing_id=listing_id)


@login_required
@require_GET
def fee_preview(request: HtmxHttpRequest) -> HttpResponse:
    """ "Buyer pays X, platform fee Y, you receive Z" for the price being typed (htmx partial)."""
    seller = _own_seller(request)
    form = FeePreviewForm(request.GET)
    quote = None
    problem = ""
    if form.is_valid():
        raw = (form.cleaned_data["price"] or "").strip().replace(",", ".")
        currency = form.cleaned_data["currency"] or seller.default_currency
        if raw:
            try:
                quote = fee_quote(
                    amount=services.validate_price(Money.from_major(raw, currency)),
                    seller=seller,
                    category=form.cleaned_data["category"],
                )
            except UserFacingError as exc:
                problem = exc.message
            except ValueError:
                problem = price_input_error(currency)
    context = {"quote": quote, "problem": problem, "seller": seller}
    template = (
        "sellers/fee_preview.html#fee_preview" if request.htmx else "sellers/fee_preview.html"
    )
    return render(request, template, context)
