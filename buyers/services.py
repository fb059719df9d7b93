"""Writes of the buying side: orders, stock reservations, Checkout, fulfilment.

Stock lives on the listing (``stock`` ever added, ``reserved`` by pending orders, ``sold``); the
database refuses ``sold + reserved > stock``. An order reserves its units when created (a
conditional UPDATE under a row lock, so two buyers of the last unit get exactly one reservation),
turns them into ``sold`` when Stripe says it is paid, and releases them when it is canceled, expires
or fails.

Stripe is the source of truth for payment: ``order_fulfil`` re-reads the Checkout Session through
the gateway and never trusts a URL or a webhook payload. Every service here is idempotent and
moves an order's status only forward (``Order.TRANSITIONS``).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone

from buyers.models import Order
from buyers.selectors import listing_unavailable_reason
from marketplace import stripe_gateway
from marketplace.errors import MarketplaceError, PaymentError, UserFacingError
from marketplace.stripe_gateway import CheckoutSession, GatewayError
from sellers.fees import fee_quote
from sellers.models import Listing, Seller

logger = logging.getLogger(__name__)

# Stripe requires a Checkout Session to live at least 30 minutes; the order's deadline leaves a
# little room for the time between creating the order and creating its session.
SESSION_HEADROOM = timedelta(minutes=2)
SOLD_OUT = "Sorry, this listing just sold out."


# Extension points for apps downstream (payouts: ledger entries). Each hook is called with the
# order inside the transaction that marks it paid / refunded; raising rolls that back (and the
# webhook is retried). Register from the app's ``ready()``: ``ORDER_PAID_HOOKS.append(func)``.
ORDER_PAID_HOOKS: list[Callable[[Order], None]] = []
ORDER_REFUNDED_HOOKS: list[Callable[[Order], None]] = []


class InvalidTransition(MarketplaceError):
    """An order was asked to move backwards or sideways (a bug, never user input)."""


def _move(order: Order, status: str, **fields: Any) -> None:
    """Move ``order`` (locked by the caller) to ``status`` and save the given fields with it."""
    if not order.can_move_to(status):
        raise InvalidTransition(f"order {order.pk}: {order.status} -> {status} is not allowed")
    order.status = status
    for name, value in fields.items():
        setattr(order, name, value)
    order.save(update_fields=["status", "updated_at", *fields])


def _send_after_commit(order_id: int, kind: str) -> None:
    from buyers import tasks

    transaction.on_commit(lambda: tasks.send_order_email.delay(order_id, kind))


def _checkout_deadline(now: datetime) -> datetime:
    return now + settings.CHECKOUT_EXPIRY + SESSION_HEADROOM


def _stripe_deadline(deadline: datetime) -> int:
    """The order's ``deadline`` on Stripe's clock (unix seconds): ours moved by how far Stripe's
    clock is from ours (the sandbox's clock may have been advanced by days; real Stripe's is ours
    give or take a second), so Stripe sees the same time left as we do."""
    skew = stripe_gateway.stripe_now() - int(time.time())
    return int(deadline.timestamp()) + skew


# --- Creating an order ------------------------------------------------------------------------


def order_create(
    *,
    buyer: User,
    listing_id: int,
    quantity: int,
    client_token: uuid.UUID | None = None,
) -> Order:
    """Create a pending order for ``quantity`` units of a listing and reserve them.

    Refuses (``UserFacingError`` with a message for the buyer, nothing written) a quantity below 1
    or above ``settings.ORDER_MAX_QUANTITY``, more units than are left, a listing that cannot be
    bought (paused, deleted, seller unable to take payments) and a seller buying their own
    listing. The listing row is locked and the reservation is a conditional UPDATE, so of two
    buyers racing for the last unit exactly one gets it; the other is told it sold out.

    The price and the application fee (``sellers.fees.fee_quote``) are computed here, on the
    server, and stored on the order for good. ``client_token`` comes from the buy form: the same
    buyer submitting the same form twice gets the first order back, not a second one.
    """
    if isinstance(quantity, bool) or not isinstance(quantity, int):
        raise UserFacingError("Choose how many you want.", field="quantity")
    if quantity < 1:
        raise UserFacingError("Choose a quantity of at least 1.", field="quantity")
    if quantity > settings.ORDER_MAX_QUANTITY:
        raise UserFacingError(
            f"You can buy at most {settings.ORDER_MAX_QUANTITY} per order.", field="quantity"
        )
    if client_token is not None:
        existing = Order.objects.filter(buyer=buyer, client_token=client_token).first()
        if existing is not None:
            return _same_order(existing, listing_id)
    try:
        with transaction.atomic():
            return _order_create_locked(
                buyer=buyer, listing_id=listing_id, quantity=quantity, client_token=client_token
            )
    except IntegrityError:
        # The same form submitted twice at the same instant: the other submit won.
        if client_token is None:
            raise
        existing = Order.objects.filter(buyer=buyer, client_token=client_token).first()
        if existing is None:
            raise
        return _same_order(existing, listing_id)


def _same_order(order: Order, listing_id: int) -> Order:
    if order.listing_id != listing_id:
        raise UserFacingError("This form was already used for another order; please reload.")
    return order


def _order_create_locked(
    *, buyer: User, listing_id: int, quantity: int, client_token: uuid.UUID | None
) -> Order:
    listing = (
        Listing.objects.select_for_update(of=("self",))
        .select_related("seller", "category")
        .filter(pk=listing_id)
        .first()
    )
    if listing is None or listing.status in (Listing.Status.DRAFT, Listing.Status.DELETED):
        raise UserFacingError("This listing is no longer for sale.")
    if listing.seller.user_id == buyer.pk:
        raise UserFacingError("You cannot buy your own listing.")
    reason = listing_unavailable_reason(listing, quantity=quantity)
    if reason is not None:
        raise UserFacingError(reason, field="quantity" if "left in stock" in reason else None)
    # The row lock above serialises buyers on PostgreSQL; the condition keeps the invariant
    # even without it (SQLite serialises writers anyway).
    reserved = (
        Listing.objects.filter(pk=listing.pk)
        .filter(Q(stock__isnull=True) | Q(stock__gte=F("sold") + F("reserved") + quantity))
        .update(reserved=F("reserved") + quantity)
    )
    if reserved != 1:
        raise UserFacingError(SOLD_OUT)
    quote = fee_quote(
        amount=listing.price * quantity, seller=listing.seller, category=listing.category
    )
    return Order.objects.create(
        buyer=buyer,
        seller=listing.seller,
        listing=listing,
        client_token=client_token or uuid.uuid4(),
        title=listing.title,
        unit_amount=listing.price_amount,
        quantity=quantity,
        currency=listing.currency,
        amount=quote.amount.amount,
        application_fee_amount=quote.fee.amount,
        buyer_email=getattr(buyer, "email", ""),
        expires_at=_checkout_deadline(timezone.now()),
    )


# --- Checkout ---------------------------------------------------------------------------------


def _checkout_key(order: Order) -> str:
    if order.checkout_attempts == 0:
        return stripe_gateway.idempotency_key("order", order.pk, "checkout")
    return stripe_gateway.idempotency_key("order", order.pk, "checkout", order.checkout_attempts)


def order_checkout_url(*, order_id: int) -> str:
    """The Stripe Checkout URL of a pending order, creating its Checkout Session once.

    The session is a destination charge: the stored amount and application fee, the seller's
    connected account as destination (``on_behalf_of`` too when ``settings.STRIPE_ON_BEHALF_OF``),
    the order id as ``client_reference_id`` and metadata, ``expires_at`` = the order's deadline.
    Its idempotency key comes from the order (``order-<id>-checkout``), so a double click or a
    retry returns the same session; a later attempt after a failure uses ``...-checkout-<n>``
    (Stripe replays a failed result for the same key).

    Raises ``UserFacingError`` if the order cannot be paid any more, ``PaymentError`` (retryable)
    when Stripe cannot be reached after the SDK's retries: the order stays pending with its
    reservation, and the buyer can try again from the order page.
    """
    order = Order.objects.select_related("seller").get(pk=order_id)
    if order.status != Order.Status.PENDING:
        if order.status in Order.CONSUMED_STOCK:
            raise UserFacingError("This order is already paid.")
        raise UserFacingError("This order can no longer be paid; please order again.")
    if order.payment_processing_since is not None:
        raise UserFacingError(
            "Your bank payment for this order is already on its way; there is nothing more to pay."
        )
    now = timezone.now()
    if order.expires_at <= now:
        # Past its deadline: the session (if any) is expired in Stripe and the units released.
        closed = order_close(order_id=order.pk, status=Order.Status.EXPIRED)
        if closed.status in Order.CONSUMED_STOCK:
            raise UserFacingError("This order is already paid.")
        if closed.status == Order.Status.PENDING:
            raise PaymentError(
                "We are checking this order's payment with our payment provider; please look "
                "again in a moment.",
                retryable=True,
            )
        raise UserFacingError(
            "This order expired; the items are no longer held. Please order again."
        )
    if order.checkout_session_id and order.checkout_url:
        return order.checkout_url
    seller: Seller = order.seller
    if not seller.can_sell or not seller.stripe_account_id:
        order_close(order_id=order.pk, status=Order.Status.CANCELED)
        raise UserFacingError(
            "This seller cannot take payments right now; your order was canceled and nothing "
            "was charged."
        )

    if order.expires_at < now + settings.CHECKOUT_EXPIRY:
        # A retry later on: Stripe wants at least 30 minutes, so push the deadline (the
        # reservation is held that much longer) and use a new idempotency key with the new params.
        pushed = Order.objects.filter(
            pk=order.pk,
            status=Order.Status.PENDING,
            checkout_session_id__isnull=True,
            checkout_attempts=order.checkout_attempts,
        ).update(expires_at=_checkout_deadline(now), checkout_attempts=F("checkout_attempts") + 1)
        order.refresh_from_db()
        if not pushed and order.checkout_url:
            return order.checkout_url
        if order.status != Order.Status.PENDING:
            raise UserFacingError("This order can no longer be paid; please order again.")

    attempt = order.checkout_attempts
    try:
        session = stripe_gateway.checkout_session_create(
            order_id=order.pk,
            title=order.title,
            unit_amount=order.unit_amount,
            quantity=order.quantity,
            currency=order.currency,
            application_fee_amount=order.application_fee_amount,
            destination=seller.stripe_account_id,
            on_behalf_of=settings.STRIPE_ON_BEHALF_OF,
            customer_email=order.buyer_email,
            expires_at=_stripe_deadline(order.expires_at),
            success_url=settings.SITE_URL
            + reverse("buyers:checkout_success")
            + "?session_id={CHECKOUT_SESSION_ID}",
            cancel_url=settings.SITE_URL + reverse("buyers:checkout_cancel", args=[order.pk]),
            idempotency_key=_checkout_key(order),
            shipping_countries=settings.CHECKOUT_SHIPPING_COUNTRIES or None,
        )
    except (GatewayError, PaymentError) as exc:
        logger.warning("checkout for order %s failed: %s", order.pk, exc)
        status = getattr(exc, "http_status", None)
        # Stripe keeps the answer of a request that ran (a 500 included) under its key: only
        # then does a retry need a new key. A lost connection, a 429 or a 409 (the same key
        # still in flight, e.g. a double click) are retried with the same key, which returns the
        # session if it was made after all.
        ran = status is not None and status not in (409, 429)
        Order.objects.filter(
            pk=order.pk, checkout_session_id__isnull=True, checkout_attempts=attempt
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

    stored = Order.objects.filter(pk=order.pk, checkout_session_id__isnull=True).update(
        checkout_session_id=session.id, checkout_url=session.url or "", checkout_last_error=""
    )
    if not stored:
        order.refresh_from_db()
        if order.checkout_session_id != session.id:
            logger.warning(
                "order %s already has session %s; %s unused",
                order.pk,
                order.checkout_session_id,
                session.id,
            )
        return order.checkout_url
    return session.url or ""


# --- Fulfilment -------------------------------------------------------------------------------


def _retrieve_session(checkout_session_id: str) -> CheckoutSession:
    try:
        return stripe_gateway.checkout_session_retrieve(
            session_id=checkout_session_id, expand=["payment_intent.latest_charge"]
        )
    except GatewayError as exc:
        if exc.http_status == 404:
            raise UserFacingError("We do not know this checkout session.") from exc
        raise


def order_fulfil(*, checkout_session_id: str) -> Order | None:
    """Bring an order in line with its Checkout Session as Stripe sees it. Idempotent.

    Called by the ``checkout.session.*`` webhook handlers and by the success page, whichever
    comes first; the second call finds the work done. The session is re-read from Stripe
    (``payment_intent.latest_charge`` expanded); the caller's word is never taken for payment.

    - complete and paid: the order becomes paid, its reserved units become sold, the payment
      intent, charge, transfer, application fee ids and the receipt URL are recorded, and the
      buyer and the seller are emailed after commit. If the order's reservation was already
      released (canceled or expired) and the stock is gone meanwhile, the payment is refunded
      in full (transfer reversed, fee refunded) and the buyer is told.
    - complete and unpaid (a delayed payment method): the order is marked as processing
      (``payment_processing_since``) and its units stay reserved for
      ``ORDER_DELAYED_PAYMENT_WINDOW``, so the stale-order job leaves it alone while the bank
      works; the ``async_payment_succeeded`` / ``failed`` events decide.
    - expired: the reservation of a pending order is released.
    - open: nothing.

    Returns the order, or None when the session is not one of ours. Raises ``UserFacingError``
    for an unknown session id, ``GatewayError`` when Stripe cannot be reached (the webhook is
    retried, the success page says the payment is being confirmed).
    """
    session = _retrieve_session(checkout_session_id)
    order_id = session.order_id
    if order_id is None:
        logger.info("checkout session %s is not an order of ours", checkout_session_id)
        return None
    with transaction.atomic():
        order = Order.objects.select_for_update().filter(pk=order_id).first()
        if order is None:
            logger.warning("checkout session %s names unknown order %s", session.id, order_id)
            return None
        if order.checkout_session_id and order.checkout_session_id != session.id:
            # A stray second session of this order (its URL was never shown to the buyer). If
            # it was paid anyway, that money is not for the order: give it back in full.
            logger.error(
                "session %s is not the session of order %s (%s)",
                session.id,
                order.pk,
                order.checkout_session_id,
            )
            payment_intent = session.payment_intent_id
            if session.payment_status == "paid" and payment_intent:
                stripe_gateway.refund_create_for_order(
                    payment_intent_id=payment_intent,
                    order_id=order.pk,
                    reason="stray_checkout_session",
                    idempotency_key=stripe_gateway.idempotency_key(
                        "order", order.pk, "refund", session.id
                    ),
                )
            return order
        if not order.checkout_session_id:
            # The webhook came before our own request stored the session id.
            order.checkout_session_id = session.id
            order.checkout_url = session.url or ""
            order.save(update_fields=["checkout_session_id", "checkout_url", "updated_at"])

        if session.status == "expired":
            if order.status == Order.Status.PENDING:
                canceled = order.cancel_requested_at is not None
                _release(order, Order.Status.CANCELED if canceled else Order.Status.EXPIRED)
            return order
        if session.status != "complete":
            return order
        if session.payment_status not in ("paid", "no_payment_required"):
            if order.status == Order.Status.PENDING:
                _mark_payment_processing(order)
            return order
        _record_payment(order, session)
        return order


def _mark_payment_processing(order: Order) -> None:
    """The buyer completed Checkout with a delayed payment method (locked, pending order)."""
    now = timezone.now()
    order.payment_processing_since = order.payment_processing_since or now
    order.expires_at = max(order.expires_at, now + settings.ORDER_DELAYED_PAYMENT_WINDOW)
    order.save(update_fields=["payment_processing_since", "expires_at", "updated_at"])


def _release(order: Order, status: str) -> None:
    """Give the reserved units of a pending (locked) order back to the listing."""
    released = Listing.objects.filter(pk=order.listing_id, reserved__gte=order.quantity).update(
        reserved=F("reserved") - order.quantity
    )
    if released != 1:
        raise RuntimeError(f"order {order.pk}: listing holds fewer reserved units than it reserved")
    _move(order, status, closed_at=timezone.now())


def _record_payment(order: Order, session: CheckoutSession) -> None:
    if session.amount_total != order.amount or (session.currency or "") != order.currency:
        raise GatewayError(
            f"session {session.id} charged {session.amount_total} {session.currency}, "
            f"order {order.pk} is {order.amount} {order.currency}"
        )
    ids = {
        "payment_intent_id": session.payment_intent_id,
        "charge_id": session.charge_id,
        "transfer_id": session.transfer_id,
        "application_fee_id": session.application_fee_id,
        "receipt_url": session.receipt_url,
    }
    shipping = session.shipping
    if shipping and not order.shipping_name and not order.shipping_address:
        order.shipping_name, order.shipping_address = shipping.name, shipping.address
        order.save(update_fields=["shipping_name", "shipping_address", "updated_at"])
    if order.status in (
        Order.Status.PAID,
        Order.Status.FULFILLED,
        Order.Status.REFUNDED,
        Order.Status.DISPUTE_LOST,
    ):
        # Already done; fill in ids an earlier, less expanded read did not have.
        missing = {k: v for k, v in ids.items() if v and not getattr(order, k)}
        if missing:
            for name, value in missing.items():
                setattr(order, name, value)
            order.save(update_fields=[*missing, "updated_at"])
        return

    if order.status == Order.Status.PENDING:
        converted = Listing.objects.filter(
            pk=order.listing_id, reserved__gte=order.quantity
        ).update(reserved=F("reserved") - order.quantity, sold=F("sold") + order.quantity)
        if converted != 1:
            raise RuntimeError(f"order {order.pk}: its reservation is missing on the listing")
    else:
        # Canceled, expired or failed: the reservation was released. Take the units again if
        # they are still there; otherwise the buyer paid for something we no longer have.
        taken = (
            Listing.objects.filter(pk=order.listing_id)
            .filter(
                Q(stock__isnull=True) | Q(stock__gte=F("sold") + F("reserved") + order.quantity)
            )
            .update(sold=F("sold") + order.quantity)
        )
        if taken != 1:
            _refund_late_payment(order, ids)
            return
    now = timezone.now()
    _move(order, Order.Status.PAID, paid_at=now, **ids)
    for hook in ORDER_PAID_HOOKS:
        hook(order)
    _send_after_commit(order.pk, "order_paid_buyer")
    _send_after_commit(order.pk, "order_paid_seller")


def _refund_late_payment(order: Order, ids: dict[str, str]) -> None:
    if not ids["payment_intent_id"]:
        raise GatewayError(f"order {order.pk}: paid session without a payment intent")
    refund = stripe_gateway.refund_create_for_order(
        payment_intent_id=ids["payment_intent_id"],
        order_id=order.pk,
        reason="sold_out_after_expiry",
        idempotency_key=stripe_gateway.idempotency_key("order", order.pk, "refund"),
    )
    now = timezone.now()
    _move(
        order,
        Order.Status.REFUNDED,
        refund_id=refund.id,
        refunded_amount=order.amount,
        refunded_at=now,
        paid_at=now,
        **ids,
    )
    for hook in ORDER_REFUNDED_HOOKS:
        hook(order)
    logger.info("order %s paid after its stock was released: refunded (%s)", order.pk, refund.id)
    _send_after_commit(order.pk, "order_refunded_late_buyer")


def order_payment_failed(*, checkout_session_id: str) -> Order | None:
    """A delayed payment failed (``checkout.session.async_payment_failed``): release the stock.

    The session is re-read first: if Stripe says it is paid after all, the order is fulfilled
    instead. The buyer is emailed after commit. Idempotent.
    """
    session = _retrieve_session(checkout_session_id)
    if session.payment_status in ("paid", "no_payment_required"):
        return order_fulfil(checkout_session_id=checkout_session_id)
    order_id = session.order_id
    if order_id is None:
        return None
    with transaction.atomic():
        order = Order.objects.select_for_update().filter(pk=order_id).first()
        if order is None or order.status != Order.Status.PENDING:
            return order
        _release(order, Order.Status.FAILED)
        _send_after_commit(order.pk, "order_payment_failed")
        return order


def order_close(*, order_id: int, status: str) -> Order:
    """Cancel (the buyer came back from Checkout) or expire (deadline passed) a pending order.

    If it has a Checkout Session, the session is expired in Stripe first so that it can no
    longer be paid; when Stripe refuses (already completed) the order is brought in line with
    the session instead (``order_fulfil``: it may be paid). When Stripe cannot be reached the
    order stays pending and the next run of the periodic job tries again. Otherwise the
    reservation is released. ``status`` is ``canceled`` or ``expired``. Idempotent.
    """
    if status not in (Order.Status.CANCELED, Order.Status.EXPIRED):
        raise ValueError(f"cannot close an order as {status}")
    order = Order.objects.get(pk=order_id)
    if order.status != Order.Status.PENDING:
        return order
    if status == Order.Status.CANCELED:
        Order.objects.filter(pk=order.pk, cancel_requested_at__isnull=True).update(
            cancel_requested_at=timezone.now()
        )
    if order.checkout_session_id:
        try:
            stripe_gateway.checkout_session_expire(
                session_id=order.checkout_session_id,
                # One key per 5-minute window (the periodic job's period): a retry within it
                # is deduplicated, a later run is not stuck with a failure Stripe stored.
                idempotency_key=stripe_gateway.idempotency_key(
                    "order", order.pk, "expire", int(timezone.now().timestamp()) // 300
                ),
            )
        except (GatewayError, PaymentError) as exc:
            logger.info("expiring session of order %s: %s", order.pk, exc)
            try:
                synced = order_fulfil(checkout_session_id=order.checkout_session_id)
            except (GatewayError, UserFacingError) as sync_exc:
                logger.warning("order %s left pending: %s", order.pk, sync_exc)
                return order
            return synced or order
    with transaction.atomic():
        locked = Order.objects.select_for_update().get(pk=order_id)
        if locked.status == Order.Status.PENDING:
            _release(locked, status)
        return locked


def orders_expire_stale(*, now: datetime | None = None, limit: int = 200) -> int:
    """Expire pending orders past their deadline (periodic task). Returns how many closed."""
    from buyers.selectors import stale_pending_orders

    closed = 0
    for order_id in stale_pending_orders(now=now).values_list("pk", flat=True)[:limit]:
        try:
            order = order_close(order_id=order_id, status=Order.Status.EXPIRED)
        except Exception:
            logger.exception("expiring order %s failed", order_id)
            continue
        if order.status != Order.Status.PENDING:
            closed += 1
    return closed


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
        for hook in ORDER_REFUNDED_HOOKS:
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


# --- The seller's side ------------------------------------------------------------------------


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
