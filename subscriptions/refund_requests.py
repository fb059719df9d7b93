"""A buyer's request for the refund of a paid invoice of their subscription, and its answers.

The buyer asks (``invoice_refund_request_create``); the seller is emailed and answers on the
subscriber's page: they grant it by refunding the invoice on its refund page (payouts, above
this app, calls ``invoice_refund_requests_settle`` once Stripe accepted the refund), or decline
it with a reason the buyer reads (``invoice_refund_request_decline``). Keyword-only, atomic,
the rows they change locked; emails on commit.
"""

from __future__ import annotations

import functools
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from buyers.aftersale.services import text_of
from marketplace.errors import UserFacingError
from marketplace.money import Money
from subscriptions.models import REQUEST_MAX, InvoiceRefundRequest, SubscriptionInvoice

R = InvoiceRefundRequest


def _email(kind: str, request: InvoiceRefundRequest) -> None:
    from subscriptions import tasks

    transaction.on_commit(
        functools.partial(
            tasks.send_subscription_email.delay,
            request.invoice.subscription_id,
            kind,
            request.invoice_id,
        )
    )


def invoice_refund_request_create(
    *, buyer: Any, invoice_id: int, reason: str, message: str, amount: int | None = None
) -> InvoiceRefundRequest:
    """The buyer asks for a refund of ``amount`` minor units of a paid invoice of their own
    subscription (None: what remains of it).

    Refused with a message (``UserFacingError``): an unknown reason, an empty or over-long
    message, an invoice not paid or already fully refunded, an amount of zero or above what
    remains, a second request while one waits for the seller. Another buyer's invoice raises
    ``SubscriptionInvoice.DoesNotExist`` (the view answers 404).
    Side effects: the seller is emailed."""
    if reason not in R.Reason.values:
        raise UserFacingError("Choose why you ask for a refund.", field="reason")
    text = text_of(
        message, limit=REQUEST_MAX, field="message", empty="Tell the seller why you ask."
    )
    with transaction.atomic():
        invoice = (
            SubscriptionInvoice.objects.select_for_update(of=("self",))
            .select_related("subscription")
            .get(pk=invoice_id, subscription__buyer=buyer)
        )
        remaining = invoice.refundable_amount
        if not invoice.charge_id or remaining <= 0:
            raise UserFacingError(
                "Only a paid invoice with something left to refund can be asked back."
            )
        if R.objects.filter(invoice=invoice, status=R.Status.OPEN).exists():
            raise UserFacingError("This invoice already has a request waiting for an answer.")
        if amount is not None:
            if amount <= 0:
                raise UserFacingError("Enter an amount above zero.", field="amount")
            if amount > remaining:
                raise UserFacingError(
                    f"At most {Money(remaining, invoice.currency)} can be refunded on this "
                    "invoice.",
                    field="amount",
                )
        request = R.objects.create(
            invoice=invoice, buyer=buyer, reason=reason, message=text, amount=amount
        )
        _email("refund_requested_seller", request)
    return request


def invoice_refund_request_decline(
    *, actor: Any, request_id: int, answer: str
) -> InvoiceRefundRequest:
    """The seller of the subscription declines an open request with a reason the buyer reads.

    Refused with a message: an empty or over-long reason, a request answered already. Anyone
    but the seller: ``PermissionDenied``. Side effects: the buyer is emailed."""
    text = text_of(
        answer, limit=REQUEST_MAX, field="answer", empty="Say why, so the buyer understands."
    )
    with transaction.atomic():
        request = (
            R.objects.select_for_update(of=("self",))
            .select_related("invoice__subscription__seller")
            .get(pk=request_id)
        )
        if request.invoice.subscription.seller.user_id != getattr(actor, "pk", None):
            raise PermissionDenied("not your subscriber")
        if request.status != R.Status.OPEN:
            raise UserFacingError("This request has been answered already.")
        request.status = R.Status.DECLINED
        request.answer = text
        request.answered_by = actor
        request.answered_at = timezone.now()
        request.save(update_fields=["status", "answer", "answered_by", "answered_at", "updated_at"])
        _email("refund_request_declined", request)
    return request


def invoice_refund_requests_settle(
    *, actor: Any, invoice_id: int, amount: int, refund_request_id: int
) -> InvoiceRefundRequest | None:
    """After a refund of ``amount`` of the invoice that Stripe accepted (``refund_request_id``:
    the payouts.RefundRequest), the request the buyer has waiting on it, if any, is granted by
    it. The buyer hears of the refund from its own email (``invoice_refunded_buyer``, when
    Stripe's event records it). Returns the request, or None."""
    with transaction.atomic():
        request = (
            R.objects.select_for_update()
            .filter(invoice_id=invoice_id, status=R.Status.OPEN)
            .first()
        )
        if request is None:
            return None
        request.status = R.Status.GRANTED
        request.refunded_amount = amount
        request.refund_request_id = refund_request_id
        request.answered_by = actor
        request.answered_at = timezone.now()
        request.save(
            update_fields=[
                "status",
                "refunded_amount",
                "refund_request_id",
                "answered_by",
                "answered_at",
                "updated_at",
            ]
        )
    return request
