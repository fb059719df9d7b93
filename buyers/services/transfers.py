"""Transfers of a purchase with several sellers: one Transfer per seller from the purchase's
charge, idempotent, retried with a backoff, never paid twice.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from buyers.models import Order, Purchase
from marketplace import stripe_gateway
from marketplace.stripe_gateway import GatewayError

logger = logging.getLogger(__name__)


TRANSFER_BACKOFF = (60, 300, 900, 3600, 4 * 3600, 12 * 3600)  # seconds after attempt n


def transfer_backoff(attempts: int) -> timedelta:
    """How long to wait before trying a failed transfer again, after ``attempts`` failures."""
    return timedelta(seconds=TRANSFER_BACKOFF[min(max(attempts, 1), len(TRANSFER_BACKOFF)) - 1])


def _transfer_key(order: Order) -> str:
    # From the purchase and the seller: the same seller of the same purchase is one transfer.
    # After a refusal Stripe stored (the request ran, nothing was made) the next attempt needs
    # a new key; the existing-transfer lookup below keeps that from ever paying twice.
    parts: list[object] = ["purchase", order.purchase_id, "seller", order.seller_id, "transfer"]
    if order.transfer_attempts:
        parts.append(order.transfer_attempts)
    return stripe_gateway.idempotency_key(*parts)


def order_transfer_create(*, order_id: int) -> Order:
    """Pay one seller their share of a several-seller purchase: one Transfer. Idempotent.

    The transfer is ``source_transaction`` = the purchase's charge (allowed before its funds
    are available; the seller's funds become available when the charge's do), ``destination``
    = the seller's account, ``transfer_group`` = the purchase, amount = the order's lines minus
    its application fee, idempotency key from the purchase and the seller. The order row stays
    locked while Stripe is asked, so two workers never both send it; before any retry the
    purchase's transfers to that seller are listed from Stripe, and one found is recorded
    instead of making another: a seller is never paid twice.

    A refusal (the seller's account lost its transfers capability...) or Stripe being
    unreachable leaves ``transfer_status`` = failed with the reason, the attempt count and the
    time of the next attempt (``transfer_backoff``); staff see it on the transfer review page.
    Orders that are not due a transfer are returned unchanged.
    """
    with transaction.atomic():
        order = (
            Order.objects.select_for_update(of=("self",))
            .select_related("purchase", "seller")
            .get(pk=order_id)
        )
        purchase = order.purchase
        due = order.transfer_status in (Order.TransferStatus.PENDING, Order.TransferStatus.FAILED)
        if not due or purchase.charge_type != Purchase.ChargeType.SEPARATE:
            return order
        if (
            order.status not in (Order.Status.PAID, Order.Status.FULFILLED)
            or not purchase.charge_id
        ):
            return order
        amount = order.transfer_amount
        if amount <= 0:
            _move_transfer(order, Order.TransferStatus.PAID, transfer_last_error="")
            return order
        destination = order.seller.stripe_account_id or ""
        try:
            existing = None
            if order.transfer_attempts:
                existing = stripe_gateway.transfer_find(
                    transfer_group=purchase.transfer_group, destination=destination
                )
            transfer = existing or stripe_gateway.transfer_create(
                amount=amount,
                currency=order.currency,
                destination=destination,
                source_transaction=purchase.charge_id,
                transfer_group=purchase.transfer_group,
                purchase_id=purchase.pk,
                order_id=order.pk,
                idempotency_key=_transfer_key(order),
            )
        except GatewayError as exc:
            ran = exc.http_status is not None and exc.http_status not in (409, 429)
            order.transfer_attempts += 1 if ran else 0
            order.transfer_status = Order.TransferStatus.FAILED
            order.transfer_last_error = str(exc.message if hasattr(exc, "message") else exc)[:255]
            order.transfer_next_attempt_at = timezone.now() + transfer_backoff(
                max(order.transfer_attempts, 1)
            )
            order.save(
                update_fields=[
                    "transfer_attempts",
                    "transfer_status",
                    "transfer_last_error",
                    "transfer_next_attempt_at",
                    "updated_at",
                ]
            )
            logger.warning("transfer of order %s failed: %s", order.pk, exc)
            return order
        order.transfer_id = transfer.id
        _move_transfer(order, Order.TransferStatus.PAID, transfer_last_error="")
        return order


def _move_transfer(order: Order, status: str, **fields: Any) -> None:
    order.transfer_status = status
    order.transfer_next_attempt_at = None
    for name, value in fields.items():
        setattr(order, name, value)
    order.save(
        update_fields=[
            "transfer_status",
            "transfer_id",
            "transfer_next_attempt_at",
            "updated_at",
            *fields,
        ]
    )


def purchase_transfers_create(*, purchase_id: int) -> list[Order]:
    """Transfer every seller of a paid several-seller purchase their share
    (``order_transfer_create`` per order; those done already are skipped). Returns the orders
    whose transfer is still to be made (failed, to retry later)."""
    waiting = []
    order_ids = Order.objects.filter(
        purchase_id=purchase_id,
        transfer_status__in=[Order.TransferStatus.PENDING, Order.TransferStatus.FAILED],
    ).order_by("pk")
    for order_id in list(order_ids.values_list("pk", flat=True)):
        order = order_transfer_create(order_id=order_id)
        if order.transfer_status == Order.TransferStatus.FAILED:
            waiting.append(order)
    return waiting


def transfers_retry_due(*, now: datetime | None = None, limit: int = 100) -> int:
    """Try again the failed transfers whose backoff has passed (periodic). Returns how many
    were made now."""
    from buyers.selectors import transfers_due

    made = 0
    for order_id in transfers_due(now=now).values_list("pk", flat=True)[:limit]:
        order = order_transfer_create(order_id=order_id)
        made += order.transfer_status == Order.TransferStatus.PAID
    return made
