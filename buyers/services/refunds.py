"""Refunds and disputes Stripe reports on an order's charge, recorded on the order (called from
the payouts app): amounts only grow, statuses only move forward, the buyer and the seller are
emailed after commit.
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from buyers.models import Order
from buyers.services import hooks
from buyers.services._common import (
    InvalidTransition,
    _move,
    _send_after_commit,
)


def order_record_refund(
    *, order_id: int, refund_id: str, refunded_total: int, charge_id: str = ""
) -> Order:
    """Record a refund Stripe made on the order's charge (e.g. from ``charge.refunded``).

    ``charge_id`` names the refunded charge: a refund of any other charge (a stray second
    Checkout Session of the same order, refunded automatically) leaves the order untouched.

    ``refunded_total`` is the charge's cumulative ``amount_refunded`` in minor units, so calls
    are idempotent and order-insensitive: the order keeps the largest total seen. A full refund
    moves a paid or shipped order to refunded; a partial one keeps its status. The buyer is
    emailed after commit when the total grows. For the payouts app (seller refunds).
    """
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order_id)
        if charge_id and order.charge_id and charge_id != order.charge_id:
            return order
        if refunded_total <= order.refunded_amount:
            return order
        if refunded_total > order.amount:
            raise ValueError(f"order {order.pk}: refund total {refunded_total} > {order.amount}")
        if order.status not in (Order.Status.PAID, Order.Status.FULFILLED, Order.Status.REFUNDED):
            raise InvalidTransition(f"order {order.pk} is {order.status}: nothing to refund")
        order.refunded_amount = refunded_total
        order.refund_id = order.refund_id or refund_id
        fields = ["refunded_amount", "refund_id", "updated_at"]
        if refunded_total == order.amount and order.status != Order.Status.REFUNDED:
            _move(order, Order.Status.REFUNDED, refunded_at=timezone.now())
        order.save(update_fields=fields)
        for hook in hooks.ORDER_REFUNDED_HOOKS:
            hook(order)
        _send_after_commit(order.pk, "order_refunded_buyer")
        return order


def order_record_dispute(*, order_id: int, status: str, evidence_due_by: datetime | None) -> Order:
    """Flag the order as disputed by the buyer's bank (from the payouts app's dispute mirror).

    ``status`` is Stripe's dispute status (needs_response, under_review, won, lost ...); the
    payouts app moves it only forward, this service only copies it. While the dispute is open or
    once won, the order's own status is left alone. A lost dispute ends a paid or shipped order
    as ``dispute_lost`` (the bank gave the payment back to the buyer: nothing left to ship) and
    the buyer and the seller are emailed the outcome after commit; a won one emails them too.
    """
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order_id)
        changed = order.dispute_status != status
        if changed or order.dispute_evidence_due_by != evidence_due_by:
            order.dispute_status = status
            order.dispute_evidence_due_by = evidence_due_by
            order.save(update_fields=["dispute_status", "dispute_evidence_due_by", "updated_at"])
        if status == "lost" and order.can_move_to(Order.Status.DISPUTE_LOST):
            _move(order, Order.Status.DISPUTE_LOST, closed_at=timezone.now())
        if changed and status in ("won", "lost"):
            _send_after_commit(order.pk, f"order_dispute_{status}_buyer")
            _send_after_commit(order.pk, f"order_dispute_{status}_seller")
        return order
