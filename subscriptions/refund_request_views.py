"""A buyer's refund request on an invoice of their subscription (the buyer asks; the seller
declines here, or grants it by refunding the invoice on its refund page in payouts). Parse,
call one service or selector, render; another person's subscription, invoice or request is a
404."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from buyers.aftersale.forms import DeclineForm
from marketplace.errors import UserFacingError
from sellers.selectors import seller_for_user
from subscriptions import refund_requests, selectors
from subscriptions.forms import RefundRequestForm
from subscriptions.models import InvoiceRefundRequest, SubscriptionInvoice


def _see_other(url: str) -> HttpResponseRedirect:
    return HttpResponseRedirect(url, status=303)


@login_required
@require_http_methods(["GET", "POST"])
def refund_request_new(request: HttpRequest, pk: int, invoice_pk: int) -> HttpResponse:
    """The buyer asks for a refund of a paid invoice of their own subscription."""
    invoice = selectors.buyer_invoice(buyer=request.user, subscription_id=pk, invoice_id=invoice_pk)
    if invoice is None:
        raise Http404("No such invoice")
    form = RefundRequestForm(request.POST or None, currency=invoice.currency)
    waiting = invoice.refund_requests.filter(status=InvoiceRefundRequest.Status.OPEN).first()
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                refund_requests.invoice_refund_request_create(
                    buyer=request.user,
                    invoice_id=invoice.pk,
                    reason=data["reason"],
                    message=data["message"],
                    amount=data["amount"],
                )
            except UserFacingError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            except SubscriptionInvoice.DoesNotExist:  # pragma: no cover - the selector checked
                raise Http404("No such invoice") from None
            else:
                messages.success(request, "Sent to the seller; you will be emailed their answer.")
                return _see_other(reverse("subscriptions:detail", args=[pk]))
        status = 400
    return render(
        request,
        "subscriptions/refund_request_form.html",
        {"invoice": invoice, "sub": invoice.subscription, "form": form, "waiting": waiting},
        status=status,
    )


@login_required
@require_POST
def refund_request_decline(request: HttpRequest, pk: int, request_pk: int) -> HttpResponse:
    """The seller declines a subscriber's refund request with a reason."""
    asked = selectors.seller_refund_request(
        seller=seller_for_user(user=request.user), request_id=request_pk
    )
    if asked is None or asked.invoice.subscription_id != pk:
        raise Http404("No such request")
    form = DeclineForm(request.POST)
    if form.is_valid():
        try:
            refund_requests.invoice_refund_request_decline(
                actor=request.user, request_id=asked.pk, answer=form.cleaned_data["answer"]
            )
        except UserFacingError as exc:
            messages.error(request, exc.message)
        except PermissionDenied:  # pragma: no cover - the selector checked
            raise Http404("No such request") from None
        else:
            messages.success(request, "Declined; the buyer has been emailed your reason.")
    else:
        # An empty reason (DeclineForm's message) or one over 2000 characters.
        messages.error(request, " ".join(str(e) for e in form.errors.get("answer") or []))
    return _see_other(reverse("subscriptions:subscriber", args=[pk]))
