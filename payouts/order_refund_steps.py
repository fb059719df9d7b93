"""Refunding one order in two steps, shared by the seller's sale page (``views.sale_refund``) and
staff's order of a several-seller purchase (``staff_order_refund_views``): the form (everything,
an amount or some items), then a confirmation naming the amount and the seller's share; only the
confirmed POST (``confirm``) reaches Stripe, through the page's own ``refund``."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from buyers.models import Order
from marketplace.errors import UserFacingError
from marketplace.money import Money
from payouts import services
from payouts.forms import SaleRefundForm
from payouts.models import RefundRequest


def proposed_by_link(request: HttpRequest) -> dict[str, Any]:
    """The refund form's initial values a link proposes (``?amount=12.50&reason=...``: a
    buyer's refund request, of an order or of an invoice); the seller still reviews and
    confirms them."""
    proposed: dict[str, Any] = {}
    if request.GET.get("amount"):
        proposed.update(how="amount", amount=request.GET["amount"][:20])
    if request.GET.get("reason") in RefundRequest.Reason.values:
        proposed["reason"] = request.GET["reason"]
    return proposed


@dataclass(frozen=True)
class RefundPage:
    """Where a refund page's two steps render, where it goes back to (once refunded, or when
    nothing is left), and its 404 message when the refund is not the user's to make."""

    template: str
    confirm_template: str
    back: str
    not_found: str


def order_refund_steps(
    request: HttpRequest,
    order: Order,
    *,
    page: RefundPage,
    refund: Callable[[dict[str, Any], int], str],
    proposed: dict[str, Any] | None = None,
    context: dict[str, Any] | None = None,
) -> HttpResponse:
    """The form (``proposed`` initial values on top of "everything"), "edit" back to it, the
    confirmation, then ``refund(cleaned_data, amount)``, which refunds and returns the success
    message. A ``UserFacingError`` (from the amount's checks or ``refund``) is shown on the form
    (400); ``PermissionDenied`` is a 404. ``context`` adds to the templates' context."""
    refundable = services.order_refundable(order=order)
    initial: dict[str, Any] = {"client_token": uuid.uuid4(), "how": "all", **(proposed or {})}
    form = SaleRefundForm(
        request.POST or None, order=order, remaining=refundable.remaining, initial=initial
    )
    ctx: dict[str, Any] = {
        "order": order,
        "refundable": refundable,
        "form": form,
        **(context or {}),
    }
    if request.method == "POST" and refundable.remaining <= 0:
        messages.error(request, "This order is already fully refunded.")
        return redirect(page.back)
    if request.method == "POST" and "edit" in request.POST:
        return render(request, page.template, ctx)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            amount = services.order_refund_amount(
                order=order, amount=data["refund_amount"], lines=data["refund_lines"]
            )
            if amount > refundable.remaining:
                raise UserFacingError(
                    f"At most {Money(refundable.remaining, refundable.currency)} can still be "
                    "refunded on this order.",
                    field="amount",
                )
            if "confirm" not in request.POST:
                ctx["amount"] = Money(amount, order.currency)
                ctx["reason"] = RefundRequest.Reason(data["reason"]).label
                ctx["share"] = Money(
                    services.order_refund_share(order=order, amount=amount), order.currency
                )
                return render(request, page.confirm_template, ctx)
            done = refund(data, amount)
        except UserFacingError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        except PermissionDenied:
            raise Http404(page.not_found) from None
        else:
            messages.success(request, done)
            return redirect(page.back)
    status = 400 if request.method == "POST" else 200
    return render(request, page.template, ctx, status=status)
