"""Staff refund one seller's order of a several-seller purchase from the refunds page, through
the seller's own path (``order_refund_create``: a refund of that amount of the charge, then a
reversal of that seller's transfer by their share), with the sale page's two steps: the form
(everything, an amount or some items), then a confirmation; only the confirmed POST reaches
Stripe. Staff only (404 for anyone else), behind the staff second factor."""

from __future__ import annotations

import contextlib
import functools
import uuid
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from marketplace.errors import UserFacingError
from marketplace.money import Money
from marketplace.staff import staff_second_factor
from payouts import selectors, services, tasks
from payouts.forms import SaleRefundForm
from payouts.models import RefundRequest


@login_required
@require_http_methods(["GET", "POST"])
@staff_second_factor
def staff_order_refund(request: HttpRequest, order_id: int) -> HttpResponse:
    order = selectors.order_for_staff_refund(user=request.user, order_id=order_id)
    if order is None:
        raise Http404("No such order")
    refundable = services.order_refundable(order=order)
    form = SaleRefundForm(
        request.POST or None,
        order=order,
        remaining=refundable.remaining,
        initial={"client_token": uuid.uuid4(), "how": "all"},
    )
    context: dict[str, Any] = {"order": order, "refundable": refundable, "form": form}
    if request.method == "POST" and refundable.remaining <= 0:
        messages.error(request, "This order is already fully refunded.")
        return redirect("payouts:refunds")
    if request.method == "POST" and "edit" in request.POST:
        return render(request, "payouts/staff_order_refund.html", context)
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
                context["amount"] = Money(amount, order.currency)
                context["reason"] = RefundRequest.Reason(data["reason"]).label
                context["share"] = Money(
                    services.order_refund_share(order=order, amount=amount), order.currency
                )
                return render(request, "payouts/staff_order_refund_confirm.html", context)
            refund = services.order_refund_create(
                actor=request.user,
                order_id=order.pk,
                amount=amount,
                reason=data["reason"],
                note=data.get("note") or "",
                client_token=data["client_token"],
            )
        except UserFacingError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        except PermissionDenied:
            raise Http404("No such order") from None
        else:
            # A request the buyer has waiting on this order is granted by this refund (when
            # staff may grant it; otherwise it stays for them to answer).
            with contextlib.suppress(UserFacingError, PermissionDenied):
                services.problem_reports_settle(
                    actor=request.user, order_id=order.pk, refund=refund
                )
            if order.seller.user_id != request.user.pk:
                transaction.on_commit(
                    functools.partial(tasks.send_staff_refund_email.delay, refund.pk)
                )
            messages.success(
                request,
                f"Refund of {Money(amount, order.currency)} of order #{order.pk} sent to Stripe.",
            )
            return redirect("payouts:refunds")
    status = 400 if request.method == "POST" else 200
    return render(request, "payouts/staff_order_refund.html", context, status=status)
