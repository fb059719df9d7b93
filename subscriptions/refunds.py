"""Refunds of subscription invoices, on the subscriptions side.

The refund itself is the money side's (``payouts/services/invoice_refunds.py``: each paid
invoice is a destination charge, refunded like an order's); this module keeps what the
subscriptions app knows about it:

- ``invoice_record_refund``: Stripe refunded part or all of an invoice's charge (called by the
  ledger's charge sync, from ``charge.refunded`` / ``charge.refund.updated`` or right after our
  own refund): the invoice keeps the largest refunded total seen, and the buyer is emailed when
  it grows, as for orders.
- ``subscription_cancel_for_refund``: the seller (or staff) refunding an invoice may also end
  the subscription at once. Stripe's refund does not cancel anything; this does only when asked,
  and without a proration credit (the refund is what gives the money back).
"""

from __future__ import annotations

import functools
from typing import Any

from django.db import transaction

from marketplace import stripe_gateway as gw
from marketplace.errors import UserFacingError
from subscriptions.models import Subscription, SubscriptionInvoice


def invoice_record_refund(*, charge_id: str, refunded_total: int) -> SubscriptionInvoice | None:
    """Record Stripe's cumulative ``amount_refunded`` of the charge that paid an invoice.

    Idempotent and order-insensitive (the invoice keeps the largest total, never above what was
    paid); the buyer is emailed after commit when the total grows. Returns the invoice, or None
    when the charge paid none of our invoices."""
    from subscriptions import tasks

    if not charge_id:
        return None
    with transaction.atomic():
        invoice = (
            SubscriptionInvoice.objects.select_for_update().filter(charge_id=charge_id).first()
        )
        if invoice is None or refunded_total <= invoice.amount_refunded:
            return invoice
        invoice.amount_refunded = min(refunded_total, invoice.amount_paid)
        invoice.save(update_fields=["amount_refunded"])
        transaction.on_commit(
            functools.partial(
                tasks.send_subscription_email.delay,
                invoice.subscription_id,
                "invoice_refunded_buyer",
                invoice.pk,
            )
        )
        return invoice


def subscription_cancel_for_refund(*, actor: Any, subscription_id: int) -> Subscription:
    """End the subscription now, with no proration credit: the seller who owns it or staff
    (anyone else: ``UserFacingError`` "No such subscription"). A subscription already ended is
    returned as it is."""
    from subscriptions.services import _apply

    is_staff = bool(getattr(actor, "is_staff", False))
    sub = Subscription.objects.select_related("seller").filter(pk=subscription_id).first()
    if sub is None or not (is_staff or sub.seller.user_id == getattr(actor, "pk", None)):
        raise UserFacingError("No such subscription.")
    if not sub.is_live or not sub.stripe_subscription_id:
        return sub
    updated = gw.subscription_cancel_now(subscription_id=sub.stripe_subscription_id, prorate=False)
    with transaction.atomic():
        locked = Subscription.objects.select_for_update().get(pk=sub.pk)
        _apply(locked, updated, as_of=None)
    return locked
