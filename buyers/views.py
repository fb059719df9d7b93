"""Views of the buying side: parse, call one service or selector, render."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from django_htmx.middleware import HtmxDetails

from buyers import cards, selectors, services
from buyers import cart as carts
from buyers.forms import BuyForm, CartCheckoutForm, CartQuantityForm, CatalogueForm, ShipForm
from buyers.models import Order, Purchase
from buyers.services import onsite
from marketplace.errors import UserFacingError
from marketplace.links import fixed_url
from marketplace.stripe_gateway import GatewayError
from sellers.models import Seller


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


def _see_other(url: str) -> HttpResponseRedirect:
    response = HttpResponseRedirect(url)
    response.status_code = 303
    return response


def _browse(
    request: HtmxHttpRequest, *, template: str, base_url: str, extra: dict[str, object]
) -> HttpResponse:
    form = CatalogueForm(request.GET)
    query = form.to_query()
    seller = extra.get("shop")
    shop_id = seller.pk if isinstance(seller, Seller) else None
    page = selectors.catalogue_page(query=query, shop_id=shop_id)
    params = request.GET.copy()
    params.pop("cursor", None)
    context = {
        "form": form,
        "query": query,
        "page": page,
        "cards": cards.listing_cards_html(page.listings),
        "base_url": base_url,
        "filters_qs": params.urlencode(),
        **extra,
    }
    if request.htmx:
        return render(request, f"{template}#results", context)
    categories, sellers = selectors.filter_choices()
    context["categories"] = categories
    if seller is None:
        context["sellers"] = sellers
    context["sorts"] = [(key, label) for key, (label, _, _) in selectors.SORTS.items()]
    return render(request, template, context)


@require_GET
def catalogue(request: HtmxHttpRequest) -> HttpResponse:
    """The home page: browse, search and filter what is for sale."""
    return _browse(request, template="buyers/catalogue.html", base_url=fixed_url("home"), extra={})


@require_GET
def shop(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    """One seller's shop: their listings, with the same search and filters."""
    seller = selectors.shop_seller(slug=slug)
    if seller is None:
        raise Http404("No such shop")
    return _browse(
        request,
        template="buyers/shop.html",
        base_url=reverse("buyers:shop", args=[seller.slug]),
        extra={"shop": seller, "shop_open": seller.can_sell},
    )


@require_GET
def listing_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    listing = selectors.listing_for_buyer(listing_id=pk)
    if listing is None:
        raise Http404("No such listing")
    reason = selectors.listing_unavailable_reason(listing)
    subscription = reason == selectors.SUBSCRIPTION_ONLY
    own = request.user.is_authenticated and listing.seller.user_id == request.user.pk
    context: dict[str, object] = {
        "listing": listing,
        "pictures": selectors.listing_pictures(listing=listing),
        "own": own,
        "subscription": subscription,
    }
    if subscription:
        # Sold by plan only: its plans, each with a Subscribe button, and no "Buy now".
        context["plans"] = selectors.listing_open_plans(listing)
    else:
        context["reason"] = reason
        context["form"] = BuyForm(max_quantity=listing.available)
    return render(request, "buyers/listing_detail.html", context)


@login_required
@require_POST
def listing_buy(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Create the order (reserving stock), then send the buyer to Stripe Checkout (303)."""
    listing_url = reverse("buyers:listing", args=[pk])
    form = BuyForm(request.POST)
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, str(error))
        return _see_other(listing_url)
    try:
        order = services.order_create(
            buyer=request.user,  # type: ignore[arg-type]  # login_required
            listing_id=pk,
            quantity=form.cleaned_data["quantity"],
            client_token=form.cleaned_data.get("client_token"),
        )
    except UserFacingError as exc:
        messages.error(request, exc.message)
        return _see_other(listing_url)
    return _go_to_checkout(request, order)


def _go_to_checkout(request: HtmxHttpRequest, order: Order) -> HttpResponse:
    order_url = reverse("buyers:order_detail", args=[order.pk])
    if order.is_payable and onsite.pays_onsite(order.purchase):
        return _see_other(reverse("buyers:purchase_payment", args=[order.purchase_id]))
    try:
        url = services.order_checkout_url(order_id=order.pk)
    except UserFacingError as exc:
        messages.error(request, exc.message)
        return _see_other(order_url)
    if not url:
        messages.error(request, "The payment page is not available; please try again.")
        return _see_other(order_url)
    return _see_other(url)


@login_required
@require_GET
def order_list(request: HtmxHttpRequest) -> HttpResponse:
    """The buyer's orders; the ones that ended unpaid (left Checkout, expired, card failed) are
    grouped apart, folded, so they do not bury the orders that matter."""
    orders = list(selectors.buyer_orders(buyer=request.user)[:200])
    unpaid = [order for order in orders if order.status in Order.ENDED_UNPAID]
    active = [order for order in orders if order.status not in Order.ENDED_UNPAID]
    return render(request, "buyers/order_list.html", {"orders": active, "unpaid": unpaid})


@login_required
@require_GET
def order_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    order = get_object_or_404(selectors.buyer_orders(buyer=request.user), pk=pk)
    # Back from Checkout: the page refreshes its status until the payment is confirmed.
    context = {
        "order": order,
        "confirming": request.GET.get("confirming") == "1",
        # Ended without payment and still for sale: offer to order the same again.
        "can_retry": order.status in Order.ENDED_UNPAID
        and order.listing is not None
        and selectors.listing_unavailable_reason(order.listing, quantity=order.quantity) is None,
    }
    if request.htmx:
        return render(request, "buyers/order_detail.html#status", context)
    return render(request, "buyers/order_detail.html", context)


@login_required
@require_POST
def order_pay(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Try Checkout again for a pending order (after Stripe was down, or the buyer came back)."""
    order = get_object_or_404(selectors.buyer_orders(buyer=request.user), pk=pk)
    return _go_to_checkout(request, order)


@login_required
@require_POST
def order_cancel(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    order = get_object_or_404(selectors.buyer_orders(buyer=request.user), pk=pk)
    return _cancel(request, order)


def _cancel(request: HtmxHttpRequest, order: Order) -> HttpResponse:
    order = services.order_close(order_id=order.pk, status=Order.Status.CANCELED)
    if order.status == Order.Status.PENDING and order.payment_processing_since:
        messages.warning(
            request,
            "Your bank payment is already on its way and cannot be canceled; once it clears, "
            "the seller can refund you.",
        )
    elif order.status == Order.Status.CANCELED:
        messages.info(request, "Your order was canceled; nothing was charged.")
    elif order.status == Order.Status.PENDING:
        messages.warning(
            request,
            "We could not confirm the cancellation with our payment provider yet; the items stay "
            "held until the deadline and nothing is charged unless you complete the payment.",
        )
    return _see_other(reverse("buyers:order_detail", args=[order.pk]))


@login_required
@require_GET
def checkout_cancel(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Stripe's cancel_url: the buyer left Checkout without paying. Release the reservation."""
    order = get_object_or_404(selectors.buyer_orders(buyer=request.user), pk=pk)
    if order.status != Order.Status.PENDING:
        return _see_other(reverse("buyers:order_detail", args=[order.pk]))
    return _cancel(request, order)


@login_required
@require_GET
def checkout_success(request: HtmxHttpRequest) -> HttpResponse:
    """Stripe's success_url. The session id in the URL is only a pointer: Stripe is re-read."""
    session_id = request.GET.get("session_id", "")
    purchase = (
        selectors.buyer_purchases(buyer=request.user).filter(checkout_session_id=session_id).first()
        if session_id
        else None
    )
    if purchase is None:
        raise Http404("No such order")
    try:
        services.purchase_fulfil(checkout_session_id=session_id)
    except (GatewayError, UserFacingError):
        messages.info(request, "We are confirming your payment with Stripe; this page updates.")
    orders = list(purchase.orders.order_by("pk").values_list("pk", flat=True))
    if len(orders) > 1:  # several sellers: the purchase is what the buyer paid
        return _see_other(reverse("buyers:purchase_detail", args=[purchase.pk]))
    return _see_other(reverse("buyers:order_detail", args=[orders[0]]) + "?confirming=1")


# --- The cart ---------------------------------------------------------------------------------


def _cart_page(request: HtmxHttpRequest, *, status: int = 200) -> HttpResponse:
    cart = carts.cart_read(user=request.user, session=request.session)
    context = {
        "cart": cart,
        "checkout_form": CartCheckoutForm(),
        "max_quantity": settings.ORDER_MAX_QUANTITY,
    }
    if request.htmx:
        return render(request, "buyers/cart.html#cart", context, status=status)
    return render(request, "buyers/cart.html", context, status=status)


@require_GET
def cart_view(request: HtmxHttpRequest) -> HttpResponse:
    """The cart, grouped by currency (one payment each) and seller, re-checked now."""
    return _cart_page(request)


@require_POST
def cart_add(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Add from the listing's page; back to the listing with a message (its own partial when
    asked by htmx)."""
    form = CartQuantityForm(request.POST)
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, str(error))
        return _see_other(reverse("buyers:listing", args=[pk]))
    try:
        carts.cart_add(
            user=request.user,
            session=request.session,
            listing_id=pk,
            quantity=form.cleaned_data["quantity"],
        )
    except UserFacingError as exc:
        messages.error(request, exc.message)
        return _see_other(reverse("buyers:listing", args=[pk]))
    messages.success(request, "Added to your cart.")
    return _see_other(reverse("buyers:cart"))


def _cart_change(request: HtmxHttpRequest, change: Callable[[], None]) -> HttpResponse:
    try:
        change()
    except UserFacingError as exc:
        messages.error(request, exc.message)
        if request.htmx:
            return _cart_page(request, status=400)
    if request.htmx:
        return _cart_page(request)
    return _see_other(reverse("buyers:cart"))


@require_POST
def cart_quantity(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Change a line's quantity (0 removes it); htmx gets the cart partial back."""
    form = CartQuantityForm(request.POST, allow_zero=True)
    if not form.is_valid():
        return _cart_change(
            request, lambda: _raise(UserFacingError("Enter a whole number of items."))
        )
    quantity = form.cleaned_data["quantity"]
    return _cart_change(
        request,
        lambda: carts.cart_set_quantity(
            user=request.user, session=request.session, listing_id=pk, quantity=quantity
        ),
    )


def _raise(exc: Exception) -> None:
    raise exc


@require_POST
def cart_remove(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    return _cart_change(
        request,
        lambda: carts.cart_remove(user=request.user, session=request.session, listing_id=pk),
    )


@require_POST
def cart_accept_price(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    return _cart_change(
        request,
        lambda: carts.cart_accept_price(user=request.user, session=request.session, listing_id=pk),
    )


@login_required
@require_POST
def cart_checkout(request: HtmxHttpRequest) -> HttpResponse:
    """Pay the cart's lines of one currency: one purchase, then Stripe Checkout (303)."""
    form = CartCheckoutForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Please reload your cart and try again.")
        return _see_other(reverse("buyers:cart"))
    try:
        purchase = carts.cart_checkout(
            buyer=request.user,  # type: ignore[arg-type]  # login_required
            currency=form.cleaned_data["currency"],
            client_token=form.cleaned_data.get("client_token"),
        )
    except UserFacingError as exc:
        messages.error(request, exc.message)
        return _see_other(reverse("buyers:cart"))
    return _go_to_purchase_checkout(request, purchase)


def _go_to_purchase_checkout(request: HtmxHttpRequest, purchase: Purchase) -> HttpResponse:
    purchase_url = reverse("buyers:purchase_detail", args=[purchase.pk])
    if purchase.is_payable and onsite.pays_onsite(purchase):
        return _see_other(reverse("buyers:purchase_payment", args=[purchase.pk]))
    try:
        url = services.purchase_checkout_url(purchase_id=purchase.pk)
    except UserFacingError as exc:
        messages.error(request, exc.message)
        return _see_other(purchase_url)
    if not url:
        messages.error(request, "The payment page is not available; please try again.")
        return _see_other(purchase_url)
    return _see_other(url)


@login_required
@require_GET
def purchase_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """One payment as the buyer sees it: every seller's order, one total, one receipt."""
    purchase = get_object_or_404(selectors.buyer_purchases(buyer=request.user), pk=pk)
    return render(request, "buyers/purchase_detail.html", {"purchase": purchase})


@login_required
@require_POST
def purchase_pay(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    purchase = get_object_or_404(selectors.buyer_purchases(buyer=request.user), pk=pk)
    return _go_to_purchase_checkout(request, purchase)


# --- The seller's side ------------------------------------------------------------------------


def _seller_or_404(request: HtmxHttpRequest) -> Seller:
    seller = selectors.seller_for_user(request.user)
    if seller is None:
        raise Http404("Not a seller")
    return seller


@login_required
@require_GET
def sale_list(request: HtmxHttpRequest) -> HttpResponse:
    seller = _seller_or_404(request)
    orders = selectors.seller_orders(seller=seller).exclude(status=Order.Status.PENDING)[:200]
    return render(request, "buyers/sale_list.html", {"orders": orders, "seller": seller})


def _sale_context(order: Order, form: ShipForm) -> dict[str, object]:
    return {
        "order": order,
        "form": form,
        "recover_from_seller": settings.MARKETPLACE_DISPUTE_RECOVER_FROM_SELLER,
    }


@login_required
@require_GET
def sale_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    seller = _seller_or_404(request)
    order = get_object_or_404(selectors.seller_orders(seller=seller), pk=pk)
    return render(request, "buyers/sale_detail.html", _sale_context(order, ShipForm()))


@login_required
@require_POST
def sale_ship(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    seller = _seller_or_404(request)
    order = get_object_or_404(selectors.seller_orders(seller=seller), pk=pk)
    form = ShipForm(request.POST)
    if not form.is_valid():
        return render(request, "buyers/sale_detail.html", _sale_context(order, form), status=400)
    try:
        services.order_mark_fulfilled(
            order_id=order.pk,
            seller=seller,
            note=form.cleaned_data["note"],
            carrier=form.cleaned_data["carrier"],
            tracking_number=form.cleaned_data["tracking_number"],
        )
    except UserFacingError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "Marked as shipped; the buyer has been told.")
    return _see_other(reverse("buyers:sale_detail", args=[order.pk]))
