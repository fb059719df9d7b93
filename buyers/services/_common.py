"""What the buying-side services share: status moves (only forward, ``Order.TRANSITIONS``,
``Purchase.TRANSITIONS``), releasing a pending purchase's reservations, the emails sent after
commit, and the Checkout deadline on our clock and on Stripe's.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from buyers.models import Order, OrderLine, Purchase
from marketplace import stripe_gateway
from marketplace.compiled_sql import ByValue, update_columns
from marketplace.errors import MarketplaceError
from sellers.models import Listing

# Stripe requires a Checkout Session to live at least 30 minutes; the order's deadline leaves a
# little room for the time between creating the order and creating its session.
SESSION_HEADROOM = timedelta(minutes=2)


class InvalidTransition(MarketplaceError):
    """An order was asked to move backwards or sideways (a bug, never user input)."""


def _move(order: Order, status: str, **fields: Any) -> None:
    """Move ``order`` (locked by the caller) to ``status`` and save the given fields with it."""
    if not order.can_move_to(status):
        raise InvalidTransition(f"order {order.pk}: {order.status} -> {status} is not allowed")
    order.status = status
    for name, value in fields.items():
        setattr(order, name, value)
    update_columns(order, ["status", "updated_at", *fields])


def _send_after_commit(order_id: int, kind: str, *more: str) -> None:
    from buyers import tasks

    if more:
        kinds = [kind, *more]
        transaction.on_commit(lambda: tasks.send_order_emails.delay(order_id, kinds))
    else:
        transaction.on_commit(lambda: tasks.send_order_email.delay(order_id, kind))


def _checkout_deadline(now: datetime) -> datetime:
    return now + settings.CHECKOUT_EXPIRY + SESSION_HEADROOM


def _stripe_deadline(deadline: datetime) -> int:
    """The order's ``deadline`` on Stripe's clock (unix seconds): ours moved by how far Stripe's
    clock is from ours (the sandbox's clock may have been advanced by days; real Stripe's is ours
    give or take a second), so Stripe sees the same time left as we do."""
    skew = stripe_gateway.stripe_now() - int(time.time())
    return int(deadline.timestamp()) + skew


def _sync_orders(purchase: Purchase, **fields: Any) -> None:
    """Copy the purchase's payment facts onto its orders (the seller's view of them)."""
    Order.objects.filter(purchase=purchase).update(**fields, updated_at=timezone.now())


# The purchase, its orders and their lines are read for every payment, refund and release: the
# SQL is compiled once (``marketplace.compiled_sql``), and the status moves are written as one
# UPDATE of the named columns (``update_columns``: the rows are locked, no model has signals).


def _purchase_locked_by_id(purchase_id: int) -> QuerySet[Purchase, Purchase]:
    return Purchase.objects.select_for_update().filter(pk=purchase_id).order_by("pk")[:1]


def _orders_locked_by_purchase(purchase_id: int) -> QuerySet[Order, Order]:
    return Order.objects.select_for_update().filter(purchase_id=purchase_id).order_by("pk")


def _lines_by_order(order_id: int) -> QuerySet[OrderLine, OrderLine]:
    return OrderLine.objects.filter(order_id=order_id).order_by("listing_id")


_PURCHASE_LOCKED = ByValue(_purchase_locked_by_id, Purchase, "id")
_ORDERS_LOCKED = ByValue(_orders_locked_by_purchase, Order, "purchase")
_LINES = ByValue(_lines_by_order, OrderLine, "order")


def _locked_purchase(purchase_id: int) -> Purchase | None:
    """The purchase, locked (``SELECT ... FOR UPDATE``), or None."""
    purchase: Purchase | None = _PURCHASE_LOCKED.first(purchase_id)
    return purchase


def _locked_orders(purchase: Purchase) -> list[Order]:
    orders: list[Order] = _ORDERS_LOCKED.all(purchase.pk)
    for order in orders:  # as ``purchase.orders`` would give them
        order.purchase = purchase
    return orders


def _lines_of(order: Order) -> list[OrderLine]:
    lines: list[OrderLine] = _LINES.all(order.pk)
    for line in lines:  # as ``order.lines`` would give them
        line.order = order
    return lines


def _release(purchase: Purchase, status: str) -> None:
    """Give the reserved units of a pending (locked) purchase back, every line together."""
    now = timezone.now()
    for order in _locked_orders(purchase):
        if order.status != Order.Status.PENDING:
            continue
        for line in _lines_of(order):
            released = Listing.objects.filter(
                pk=line.listing_id, reserved__gte=line.quantity
            ).update(reserved=F("reserved") - line.quantity)
            if released != 1:
                raise RuntimeError(
                    f"order {order.pk}: listing {line.listing_id} holds fewer reserved units "
                    "than it reserved"
                )
        _move(order, status, closed_at=now)
    _move_purchase(purchase, status, closed_at=now)


def _move_purchase(purchase: Purchase, status: str, **fields: Any) -> None:
    if not purchase.can_move_to(status):
        raise InvalidTransition(f"purchase {purchase.pk}: {purchase.status} -> {status}")
    purchase.status = status
    for name, value in fields.items():
        setattr(purchase, name, value)
    update_columns(purchase, ["status", "updated_at", *fields])
