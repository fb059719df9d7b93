"""Staff refund one seller's order of a several-seller purchase from the refunds page, through
the seller's own path (``order_refund_create``: a refund of that amount of the charge, then a
reversal of that seller's transfer by their share), with the sale page's two steps: the form
(everything, an amount or some items), then a confirmation; only the confirmed POST reaches
Stripe. Staff only (404 for anyone else), behind the staff second factor."""

from __future__ import annotations

import contextlib
import functools
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from marketplace.errors import UserFacingError
from marketplace.money import Money
from marketplace.staff import staff_second_factor
from payouts import selectors, services, tasks
from payouts.order_refund_steps import RefundPage, order_refund_steps


@login_required
@require_http_methods(["GET", "POST"])
@staff_second_factor
def staff_order_refund(request: HttpRequest, order_id: int) -> HttpResponse:
    order = selectors.order_for_staff_refund(user=request.user, order_id=order_id)
    if order is None:
        raise Http404("No such order")

    def refund(data: dict[str, Any], amount: int) -> str:
        made = services.order_refund_create(
            actor=request.user,
            order_id=order.pk,
            amount=amount,
            reason=data["reason"],
            note=data.get("note") or "",
            client_token=data["client_token"],
        )
        # A request the buyer has waiting on this order is granted by this refund (when staff
        # may grant it; otherwise it stays for them to answer).
        with contextlib.suppress(UserFacingError, PermissionDenied):
            services.problem_reports_settle(actor=request.user, order_id=order.pk, refund=made)
        if order.seller.user_id != request.user.pk:
            transaction.on_commit(functools.partial(tasks.send_staff_refund_email.delay, made.pk))
        return f"Refund of {Money(amount, order.currency)} of order #{order.pk} sent to Stripe."

    return order_refund_steps(
        request,
        order,
        page=RefundPage(
            template="payouts/staff_order_refund.html",
            confirm_template="payouts/staff_order_refund_confirm.html",
            back=reverse("payouts:refunds"),
            not_found="No such order",
        ),
        refund=refund,
    )
