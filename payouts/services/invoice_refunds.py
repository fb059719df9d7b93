"""Refunds of subscription invoices: each paid invoice is a destination charge (to the seller,
``application_fee_percent`` kept by the platform), so it is refunded exactly like an order paid
alone, through ``refunds.refund_request_create``: Stripe reverses the seller's transfer and
refunds the platform's fee pro rata (``reverse_transfer``, ``refund_application_fee``), the
idempotency key is the refund request's, the ledger records it at once and again from
``charge.refunded`` / ``charge.refund.updated`` through ``charge_sync.ledger_sync_charge``
(which also tells the invoice its refunded total, and the buyer is emailed). Stripe does not
cancel a subscription when one of its invoices is refunded; the seller may ask for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied

from marketplace.errors import UserFacingError
from marketplace.money import Money
from payouts.services.refunds import (
    refund_request_create,
    refundable_of,
    seller_share_of_refund,
)
from subscriptions.models import SubscriptionInvoice


@dataclass(frozen=True)
class InvoiceRefundResult:
    """The refund request Stripe accepted, and whether the subscription was canceled with it
    (``cancel_error``: Stripe's reason when asked to and it could not; the refund stands)."""

    request: Any
    canceled: bool = False
    cancel_error: str = ""


@dataclass(frozen=True)
class InvoiceRefundable:
    """What one paid invoice can still give back to the buyer (minor units of ``currency``)."""

    paid: int
    refunded: int
    currency: str

    @property
    def remaining(self) -> int:
        return max(self.paid - self.refunded, 0)


def invoice_refundable(*, invoice: SubscriptionInvoice) -> InvoiceRefundable:
    """What remains refundable of a paid invoice: what was paid less what was refunded, as far
    as we know (the invoice's refunded total from Stripe's events, or the ledger's refunds and
    the refunds Stripe accepted whose events have not arrived yet, whichever is more)."""
    paid = invoice.amount_paid if invoice.status == "paid" and invoice.charge_id else 0
    refunded = invoice.amount_refunded
    charge = refundable_of(charge_id=invoice.charge_id) if paid else None
    if charge is not None:
        refunded = max(refunded, paid - charge.remaining)
    return InvoiceRefundable(paid=paid, refunded=min(refunded, paid), currency=invoice.currency)


def invoice_refund_share(*, invoice: SubscriptionInvoice, amount: int) -> int:
    """What a refund of ``amount`` of the invoice takes back from the seller's balance (minor
    units), as Stripe computes it: the reversal less the fee refunded, pro rata."""
    if amount <= 0 or not invoice.charge_id:
        return 0
    return seller_share_of_refund(
        charge_id=invoice.charge_id, seller_id=invoice.subscription.seller_id, amount=amount
    )


def invoice_refund_create(
    *,
    actor: Any,
    invoice_id: int,
    amount: int,
    reason: str,
    client_token: Any,
    note: str = "",
    platform_covers: bool = False,
    cancel_now: bool = False,
) -> InvoiceRefundResult:
    """Refund ``amount`` (minor units) of a paid subscription invoice, in full or in part.

    Who: the seller of the subscription within ``MARKETPLACE_REFUND_WINDOW`` of the payment;
    staff for any invoice (anyone else: ``PermissionDenied``, which views answer with a 404).
    Refused with a message (``UserFacingError``): an invoice not paid (yet), zero or a negative
    amount, more than remains ("At most … can still be refunded on this invoice", "This
    invoice is already fully refunded"), and everything ``refund_request_create`` refuses (a
    second refund while one is being sent, the same form twice, the seller's share above their
    balance; ``platform_covers`` is for staff only).
    ``cancel_now``: once the refund is accepted, the subscription also ends at once, with no
    proration credit (``subscriptions.refunds.subscription_cancel_for_refund``); when Stripe
    cannot cancel it, the refund stands and the result says why (``cancel_error``).
    Returns the RefundRequest (``order_id`` empty, ``charge_id`` the invoice's charge) in an
    ``InvoiceRefundResult``.
    """
    from marketplace import stripe_gateway as gw
    from payouts.models import RefundRequest
    from subscriptions.refunds import subscription_cancel_for_refund

    invoice = (
        SubscriptionInvoice.objects.select_related("subscription__seller")
        .filter(pk=invoice_id)
        .first()
    )
    is_staff = bool(getattr(actor, "is_staff", False))
    if invoice is None or not (
        is_staff or invoice.subscription.seller.user_id == getattr(actor, "pk", None)
    ):
        raise PermissionDenied("not your invoice")
    if reason not in RefundRequest.Reason.values:
        raise UserFacingError("Choose a reason for the refund.", field="reason")
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise UserFacingError("Enter an amount above zero.", field="amount")
    refundable = invoice_refundable(invoice=invoice)
    if refundable.paid <= 0:
        raise UserFacingError("This invoice is not paid (yet): there is nothing to refund.")
    if amount > refundable.remaining:
        raise UserFacingError(
            f"At most {Money(refundable.remaining, refundable.currency)} can still be refunded "
            "on this invoice."
            if refundable.remaining
            else "This invoice is already fully refunded.",
            field="amount",
        )
    request = refund_request_create(
        actor=actor,
        charge_id=invoice.charge_id,
        amount=amount,
        reason=reason,
        client_token=client_token,
        note=note,
        platform_covers=platform_covers,
    )
    if not cancel_now:
        return InvoiceRefundResult(request)
    try:
        sub = subscription_cancel_for_refund(actor=actor, subscription_id=invoice.subscription_id)
    except (gw.GatewayError, UserFacingError) as exc:
        return InvoiceRefundResult(request, cancel_error=exc.message)
    return InvoiceRefundResult(request, canceled=sub.status == sub.Status.CANCELED)
