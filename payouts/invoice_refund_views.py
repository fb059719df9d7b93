"""Refunds of subscription invoices (the seller from their subscriber's page, staff from the
refunds page): parse, call one service or selector, render. In two steps like a sale's refund:
the form, then a confirmation naming the amount, what it takes back from the seller's balance
and whether the subscription ends; only the confirmed POST (``confirm``) reaches Stripe.

These views live in payouts, not in subscriptions: the refund is the money side's, and the
layers (payouts above subscriptions) keep subscriptions from calling it.
"""

from __future__ import annotations

import functools
import uuid
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from marketplace.errors import UserFacingError
from marketplace.money import Money
from marketplace.staff import staff_second_factor
from payouts import selectors, tasks
from payouts.forms import InvoiceRefundForm
from payouts.models import RefundRequest
from payouts.order_refund_steps import proposed_by_link
from payouts.services import invoice_refunds
from subscriptions.refund_requests import invoice_refund_requests_settle


@login_required
@require_http_methods(["GET", "POST"])
@staff_second_factor
def invoice_refund(request: HttpRequest, invoice_id: int) -> HttpResponse:
    """Refund (part of) a paid subscription invoice. Another seller's invoice, or anyone's for
    a buyer, is a 404."""
    invoice = selectors.invoice_to_refund(user=request.user, invoice_id=invoice_id)
    if invoice is None:
        raise Http404("No such invoice")
    sub = invoice.subscription
    staff = selectors.is_staff(request.user)
    own = sub.seller.user_id == request.user.pk
    back = reverse("subscriptions:subscriber", args=[sub.pk]) if own else reverse("payouts:refunds")
    refundable = invoice_refunds.invoice_refundable(invoice=invoice)
    form = InvoiceRefundForm(
        request.POST or None,
        currency=invoice.currency,
        remaining=refundable.remaining,
        staff=staff,
        # A link may propose an amount and a reason (the buyer's refund request).
        initial={"client_token": uuid.uuid4(), "how": "all", **proposed_by_link(request)},
    )
    paid_at = invoice.paid_at or invoice.created or timezone.now()
    context: dict[str, Any] = {
        "invoice": invoice,
        "sub": sub,
        "refundable": refundable,
        "form": form,
        "back": back,
        "back_label": f"Subscriber #{sub.pk}" if own else "Refunds",
        "own": own,
        "staff": staff,
        "window_passed": not staff
        and paid_at + settings.MARKETPLACE_REFUND_WINDOW < timezone.now(),
        "window_days": settings.MARKETPLACE_REFUND_WINDOW.days,
    }
    if request.method == "POST" and refundable.remaining <= 0:
        messages.error(
            request,
            "This invoice is already fully refunded."
            if refundable.paid
            else "This invoice is not paid (yet): there is nothing to refund.",
        )
        return HttpResponseRedirect(back, status=303)
    if request.method == "POST" and "edit" in request.POST:
        return render(request, "subscriptions/invoice_refund.html", context)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        amount = data["refund_amount"]
        platform_covers = bool(data.get("platform_covers"))
        try:
            if amount > refundable.remaining:
                raise UserFacingError(
                    f"At most {Money(refundable.remaining, refundable.currency)} can still be "
                    "refunded on this invoice.",
                    field="amount",
                )
            if "confirm" not in request.POST:
                context["amount"] = Money(amount, invoice.currency)
                context["reason"] = RefundRequest.Reason(data["reason"]).label
                share = 0
                if not platform_covers:
                    share = invoice_refunds.invoice_refund_share(invoice=invoice, amount=amount)
                context["share"] = Money(share, invoice.currency)
                context["cancel_now"] = bool(data.get("cancel_now"))
                context["platform_covers"] = platform_covers
                return render(request, "subscriptions/invoice_refund_confirm.html", context)
            result = invoice_refunds.invoice_refund_create(
                actor=request.user,
                invoice_id=invoice.pk,
                amount=amount,
                reason=data["reason"],
                note=data.get("note") or "",
                client_token=data["client_token"],
                platform_covers=platform_covers,
                cancel_now=bool(data.get("cancel_now")),
            )
        except UserFacingError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        except PermissionDenied:
            raise Http404("No such invoice") from None
        else:
            refund = result.request
            if refund.status == RefundRequest.Status.SUCCEEDED:
                # A request the buyer has waiting on this invoice is granted by this refund.
                invoice_refund_requests_settle(
                    actor=request.user,
                    invoice_id=invoice.pk,
                    amount=refund.amount,
                    refund_request_id=refund.pk,
                )
            if not own and refund.status == RefundRequest.Status.SUCCEEDED:
                # Staff refunded someone else's invoice: the seller hears it from us.
                transaction.on_commit(
                    functools.partial(tasks.send_staff_refund_email.delay, refund.pk)
                )
            text = f"Refund of {Money(amount, invoice.currency)} sent to Stripe."
            if result.canceled:
                text += " The subscription is canceled."
            messages.success(request, text)
            if result.cancel_error:
                messages.error(
                    request, f"The subscription could not be canceled: {result.cancel_error}"
                )
            return HttpResponseRedirect(back, status=303)
    status = 400 if request.method == "POST" else 200
    return render(request, "subscriptions/invoice_refund.html", context, status=status)
