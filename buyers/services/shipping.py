"""The seller's side of an order: marking a paid order as shipped, with an optional carrier and
tracking number shown to the buyer.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from buyers.models import Order
from buyers.services._common import (
    _move,
    _send_after_commit,
)
from marketplace.errors import UserFacingError
from sellers.models import Seller


def order_mark_fulfilled(
    *,
    order_id: int,
    seller: Seller,
    note: str = "",
    carrier: str = "",
    tracking_number: str = "",
) -> Order:
    """The seller shipped (or handed over) a paid order. Only the order's own seller may.

    ``carrier`` and ``tracking_number`` (optional) are kept on the order and shown to the buyer.

    Raises ``Order.DoesNotExist`` for someone else's order (the view answers 404) and
    ``UserFacingError`` unless the order is paid. The buyer is emailed after commit.
    """
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order_id, seller=seller)
        if order.status == Order.Status.FULFILLED:
            return order
        if order.status != Order.Status.PAID:
            raise UserFacingError("Only a paid order can be marked as shipped.")
        _move(
            order,
            Order.Status.FULFILLED,
            fulfilled_at=timezone.now(),
            shipping_note=note[:255],
            tracking_carrier=carrier.strip()[:64],
            tracking_number=tracking_number.strip()[:64],
        )
        _send_after_commit(order.pk, "order_shipped_buyer")
        return order
