"""Checkout: the Stripe Checkout Session of a pending purchase, created once (a destination
charge for one seller, a charge on the platform for several), with an idempotency key from the
purchase and a new one only after a failure Stripe stored.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from buyers.models import Order, Purchase
from buyers.services._common import (
    _checkout_deadline,
    _stripe_deadline,
    _sync_orders,
)
from buyers.services.expiry import order_close, purchase_close
from marketplace import stripe_gateway
from marketplace.errors import PaymentError, UserFacingError
from marketplace.stripe_gateway import GatewayError

logger = logging.getLogger(__name__)


def _checkout_key(purchase: Purchase) -> str:
    if purchase.checkout_attempts == 0:
        return stripe_gateway.idempotency_key("purchase", purchase.pk, "checkout")
    return stripe_gateway.idempotency_key(
        "purchase", purchase.pk, "checkout", purchase.checkout_attempts
    )


def purchase_checkout_url(*, purchase_id: int) -> str:
    """The Stripe Checkout URL of a pending purchase, creating its Checkout Session once.

    One seller: a destination charge (the order's application fee, the seller's connected
    account as destination, ``on_behalf_of`` too when ``settings.STRIPE_ON_BEHALF_OF``). Several
    sellers: a charge on the platform with ``transfer_group`` = the purchase; each seller is
    paid by ``purchase_transfers_create`` once the charge succeeds. One line item per order
    line; ``expires_at`` = the purchase's deadline. The idempotency key comes from the purchase
    (``purchase-<id>-checkout``), so a double click or a retry returns the same session; a
    later attempt after a failure uses ``...-checkout-<n>`` (Stripe replays a failed result).

    Raises ``UserFacingError`` if the purchase cannot be paid any more (a seller who can no
    longer take payments cancels it, releasing every line), ``PaymentError`` (retryable) when
    Stripe cannot be reached: the purchase stays pending with its reservations.
    """
    purchase = Purchase.objects.get(pk=purchase_id)
    if purchase.status != Purchase.Status.PENDING:
        if purchase.status == Purchase.Status.PAID:
            raise UserFacingError("This order is already paid.")
        raise UserFacingError("This order can no longer be paid; please order again.")
    if purchase.payment_processing_since is not None:
        raise UserFacingError(
            "Your bank payment for this order is already on its way; there is nothing more to pay."
        )
    now = timezone.now()
    if purchase.expires_at <= now:
        closed = purchase_close(purchase_id=purchase.pk, status=Purchase.Status.EXPIRED)
        if closed.status == Purchase.Status.PAID:
            raise UserFacingError("This order is already paid.")
        if closed.status == Purchase.Status.PENDING:
            raise PaymentError(
                "We are checking this order's payment with our payment provider; please look "
                "again in a moment.",
                retryable=True,
            )
        raise UserFacingError(
            "This order expired; the items are no longer held. Please order again."
        )
    if purchase.checkout_session_id and purchase.checkout_url:
        return purchase.checkout_url
    orders = list(purchase.orders.select_related("seller").prefetch_related("lines").order_by("pk"))
    for order in orders:
        if not order.seller.can_sell or not order.seller.stripe_account_id:
            purchase_close(purchase_id=purchase.pk, status=Purchase.Status.CANCELED)
            raise UserFacingError(
                f"{order.seller} cannot take payments right now; your order was canceled and "
                "nothing was charged."
            )

    if purchase.expires_at < now + settings.CHECKOUT_EXPIRY:
        # A retry later on: Stripe wants at least 30 minutes, so push the deadline (the
        # reservation is held that much longer) and use a new idempotency key with the new params.
        deadline = _checkout_deadline(now)
        pushed = Purchase.objects.filter(
            pk=purchase.pk,
            status=Purchase.Status.PENDING,
            checkout_session_id__isnull=True,
            checkout_attempts=purchase.checkout_attempts,
        ).update(expires_at=deadline, checkout_attempts=F("checkout_attempts") + 1)
        purchase.refresh_from_db()
        if pushed:
            _sync_orders(purchase, expires_at=deadline)
        if not pushed and purchase.checkout_url:
            return purchase.checkout_url
        if purchase.status != Purchase.Status.PENDING:
            raise UserFacingError("This order can no longer be paid; please order again.")

    destination = purchase.charge_type == Purchase.ChargeType.DESTINATION
    attempt = purchase.checkout_attempts
    try:
        session = stripe_gateway.checkout_session_create(
            purchase_id=purchase.pk,
            order_id=orders[0].pk if destination else None,
            lines=[
                stripe_gateway.CheckoutLine(
                    title=line.title, unit_amount=line.unit_amount, quantity=line.quantity
                )
                for order in orders
                for line in order.lines.all()
            ],
            currency=purchase.currency,
            application_fee_amount=orders[0].application_fee_amount if destination else None,
            destination=orders[0].seller.stripe_account_id if destination else None,
            transfer_group=None if destination else purchase.transfer_group,
            on_behalf_of=settings.STRIPE_ON_BEHALF_OF,
            customer_email=purchase.buyer_email,
            expires_at=_stripe_deadline(purchase.expires_at),
            success_url=settings.SITE_URL
            + reverse("buyers:checkout_success")
            + "?session_id={CHECKOUT_SESSION_ID}",
            cancel_url=settings.SITE_URL + reverse("buyers:checkout_cancel", args=[orders[0].pk]),
            idempotency_key=_checkout_key(purchase),
            shipping_countries=settings.CHECKOUT_SHIPPING_COUNTRIES or None,
        )
    except (GatewayError, PaymentError) as exc:
        logger.warning("checkout for purchase %s failed: %s", purchase.pk, exc)
        status = getattr(exc, "http_status", None)
        # Stripe keeps the answer of a request that ran (a 500 included) under its key: only
        # then does a retry need a new key. A lost connection, a 429 or a 409 (the same key
        # still in flight, e.g. a double click) are retried with the same key, which returns the
        # session if it was made after all.
        ran = status is not None and status not in (409, 429)
        Purchase.objects.filter(
            pk=purchase.pk, checkout_session_id__isnull=True, checkout_attempts=attempt
        ).update(
            checkout_attempts=F("checkout_attempts") + (1 if ran else 0),
            checkout_last_error=str(exc)[:255],
        )
        if status is not None and 400 <= status < 500 and status not in (409, 429):
            # Stripe refused the request itself: trying again cannot help, so the order is
            # canceled and its units go back on sale rather than held until the deadline.
            order_close(order_id=order.pk, status=Order.Status.CANCELED)
            raise UserFacingError(
                "We could not start the payment for this order, so it was canceled and nothing "
                "was charged. Please try again; if it keeps failing, contact us."
            ) from exc
        raise PaymentError(
            "We could not reach our payment provider. Your order is saved and the items are held "
            "for you; please try again in a moment from the order page.",
            retryable=True,
        ) from exc

    with transaction.atomic():
        stored = Purchase.objects.filter(pk=purchase.pk, checkout_session_id__isnull=True).update(
            checkout_session_id=session.id, checkout_url=session.url or "", checkout_last_error=""
        )
        if stored:
            _sync_orders(purchase, checkout_session_id=session.id)
    if not stored:
        purchase.refresh_from_db()
        if purchase.checkout_session_id != session.id:
            logger.warning(
                "purchase %s already has session %s; %s unused",
                purchase.pk,
                purchase.checkout_session_id,
                session.id,
            )
        return purchase.checkout_url
    return session.url or ""


def order_checkout_url(*, order_id: int) -> str:
    """The Checkout URL of the purchase this order belongs to (``purchase_checkout_url``)."""
    purchase_id = Order.objects.values_list("purchase_id", flat=True).get(pk=order_id)
    return purchase_checkout_url(purchase_id=purchase_id)
