"""Closing pending purchases: canceled by the buyer or expired at the deadline (the periodic
job), the Checkout Session expired in Stripe first, every line's reservation released together.
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from buyers.models import Order, Purchase
from buyers.services._common import (
    _release,
)
from buyers.services.fulfilment import purchase_fulfil
from marketplace import stripe_gateway
from marketplace.errors import PaymentError, UserFacingError
from marketplace.stripe_gateway import GatewayError

logger = logging.getLogger(__name__)


def purchase_close(*, purchase_id: int, status: str) -> Purchase:
    """Cancel (the buyer came back from Checkout) or expire (deadline passed) a pending purchase.

    If it has a Checkout Session, the session is expired in Stripe first so that it can no
    longer be paid (an on-site PaymentIntent is canceled in Stripe first, likewise); when Stripe refuses (already completed) the purchase is brought in line with
    the session instead (``purchase_fulfil``: it may be paid). When Stripe cannot be reached it
    stays pending and the next run of the periodic job tries again. Otherwise every line's
    reservation is released, together. ``status`` is ``canceled`` or ``expired``. Idempotent.
    """
    if status not in (Purchase.Status.CANCELED, Purchase.Status.EXPIRED):
        raise ValueError(f"cannot close a purchase as {status}")
    purchase = Purchase.objects.get(pk=purchase_id)
    if purchase.status != Purchase.Status.PENDING:
        return purchase
    if status == Purchase.Status.CANCELED:
        Purchase.objects.filter(pk=purchase.pk, cancel_requested_at__isnull=True).update(
            cancel_requested_at=timezone.now()
        )
    if purchase.checkout_session_id:
        try:
            stripe_gateway.checkout_session_expire(
                session_id=purchase.checkout_session_id,
                # One key per 5-minute window (the periodic job's period): a retry within it
                # is deduplicated, a later run is not stuck with a failure Stripe stored.
                idempotency_key=stripe_gateway.idempotency_key(
                    "purchase", purchase.pk, "expire", int(timezone.now().timestamp()) // 300
                ),
            )
        except (GatewayError, PaymentError) as exc:
            logger.info("expiring session of purchase %s: %s", purchase.pk, exc)
            try:
                synced = purchase_fulfil(checkout_session_id=purchase.checkout_session_id)
            except (GatewayError, UserFacingError) as sync_exc:
                logger.warning("purchase %s left pending: %s", purchase.pk, sync_exc)
                return purchase
            return synced or purchase
    elif purchase.payment_intent_id:
        # Paid on our own page (services/onsite.py): cancel the PaymentIntent first so it can no
        # longer be paid; when Stripe refuses (it succeeded), the purchase follows the intent.
        from buyers.services import onsite

        try:
            stripe_gateway.payment_intent_cancel(
                payment_intent_id=purchase.payment_intent_id,
                reason="abandoned",
                idempotency_key=stripe_gateway.idempotency_key("purchase", purchase.pk, "cancel"),
            )
        except (GatewayError, PaymentError) as exc:
            logger.info("canceling the intent of purchase %s: %s", purchase.pk, exc)
            try:
                synced = onsite.payment_intent_sync(payment_intent_id=purchase.payment_intent_id)
            except (GatewayError, UserFacingError) as sync_exc:
                logger.warning("purchase %s left pending: %s", purchase.pk, sync_exc)
                return purchase
            return synced or purchase
    with transaction.atomic():
        locked = Purchase.objects.select_for_update().get(pk=purchase_id)
        if locked.status == Purchase.Status.PENDING:
            _release(locked, status)
        return locked


def order_close(*, order_id: int, status: str) -> Order:
    """Close the purchase this order belongs to (``purchase_close``: every seller's order of
    it together); returns the order as it is then."""
    order = Order.objects.get(pk=order_id)
    purchase_close(purchase_id=order.purchase_id, status=status)
    order.refresh_from_db()
    return order


def purchases_expire_stale(*, now: datetime | None = None, limit: int = 200) -> int:
    """Expire pending purchases past their deadline (periodic task). Returns how many closed."""
    from buyers.selectors import stale_pending_purchases

    closed = 0
    for purchase_id in stale_pending_purchases(now=now).values_list("pk", flat=True)[:limit]:
        try:
            purchase = purchase_close(purchase_id=purchase_id, status=Purchase.Status.EXPIRED)
        except Exception:
            logger.exception("expiring purchase %s failed", purchase_id)
            continue
        if purchase.status != Purchase.Status.PENDING:
            closed += 1
    return closed


orders_expire_stale = purchases_expire_stale
