"""Fulfilment: a purchase and its orders brought in line with its Checkout Session as Stripe
sees it: re-read through the gateway, or as its own verified event states a final state (a URL
is never trusted). Paid: the reserved units become sold, ids are recorded, the buyer and the
sellers are emailed; paid after the stock was released and is gone: refunded in full; a delayed
payment that failed: released.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from buyers.models import Order, Purchase
from buyers.services import hooks
from buyers.services._common import (
    _lines_of,
    _locked_orders,
    _locked_purchase,
    _move,
    _move_purchase,
    _release,
    _send_after_commit,
    _sync_orders,
)
from marketplace import stripe_gateway
from marketplace.errors import UserFacingError
from marketplace.stripe_gateway import Charge, CheckoutSession, GatewayError
from sellers.models import Listing

logger = logging.getLogger(__name__)


def _purchase_id_from_session(session: CheckoutSession) -> int | None:
    """The purchase a session pays: its metadata, or (sessions made before purchases existed)
    the order named by its metadata or ``client_reference_id``."""
    if session.purchase_id is not None:
        return session.purchase_id
    order_id = session.order_id
    if order_id is None:
        return None
    return Order.objects.filter(pk=order_id).values_list("purchase_id", flat=True).first()


# The one read of a session: the payment's charge with what the ledger records of it (Stripe's
# processing fee is on its balance transaction; a destination charge's transfer and application
# fee), handed to the ledger (``hooks.PAYMENT_READ_HOOKS``) so that it need not read it again.
SESSION_EXPAND = [
    "payment_intent.latest_charge.balance_transaction",
    "payment_intent.latest_charge.transfer",
    "payment_intent.latest_charge.application_fee",
]


def _retrieve_session(checkout_session_id: str) -> CheckoutSession:
    try:
        return stripe_gateway.checkout_session_retrieve(
            session_id=checkout_session_id, expand=SESSION_EXPAND
        )
    except GatewayError as exc:
        if exc.http_status == 404:
            raise UserFacingError("We do not know this checkout session.") from exc
        raise


def _session_told(
    told: Mapping[str, Any] | None, checkout_session_id: str
) -> CheckoutSession | None:
    """The session as its own event states it (``data.object`` of ``checkout.session.*``, the
    event verified at intake: Stripe's signature, or listed from Stripe's API), when that state
    is final and so cannot be stale: complete and paid (or needing no payment), or expired.
    None otherwise (open, or complete with a delayed payment still unpaid): then read it."""
    if not told or told.get("object") != "checkout.session":
        return None
    if told.get("id") != checkout_session_id:
        return None
    status = told.get("status")
    paid = told.get("payment_status") in ("paid", "no_payment_required")
    if status == "expired" or (status == "complete" and paid):
        return CheckoutSession.from_stripe(dict(told))
    return None


def purchase_fulfil(
    *,
    checkout_session_id: str,
    told: Mapping[str, Any] | None = None,
) -> Purchase | None:
    """Bring a purchase and its orders in line with its Checkout Session as Stripe sees it.
    Idempotent.

    Called by the ``checkout.session.*`` webhook handlers and by the success page, whichever
    comes first; the second call finds the work done. The session is re-read from Stripe
    (``payment_intent.latest_charge`` expanded); the caller's word is never taken for payment.

    - complete and paid: the purchase and every order become paid, reserved units become sold,
      the payment intent, charge (and for a destination charge the transfer and application
      fee) ids and the receipt URL are recorded, and the buyer and each seller are emailed after
      commit. With several sellers each order is marked to be transferred and the transfer job
      (``purchase_transfers_create``) is started after commit. If the reservations were already
      released (canceled or expired) and some stock is gone meanwhile, the payment is refunded
      in full and the buyer is told.
    - complete and unpaid (a delayed payment method): the purchase is marked as processing
      (``payment_processing_since``) and its units stay reserved for
      ``ORDER_DELAYED_PAYMENT_WINDOW``; the ``async_payment_*`` events decide.
    - expired: the reservations of a pending purchase are released, all lines together.
    - open: nothing.

    Returns the purchase, or None when the session is not one of ours. Raises
    ``UserFacingError`` for an unknown session id, ``GatewayError`` when Stripe cannot be
    reached (the webhook is retried, the success page says the payment is being confirmed).

    ``told``: the session as its ``checkout.session.*`` event states it. A final state (complete
    and paid, or expired) is used as it is, without a request (``_session_told``); the ids of
    the payment's charge, transfer and application fee, which the session does not carry, come
    from the charge's own event (``purchase_charge_told``), whichever comes first. The session
    is read all the same when the purchase needs its charge now (several sellers: the transfer
    job pays from it) or holds the ids of another payment.
    """
    session = _session_told(told, checkout_session_id)
    from_event = session is not None
    if session is None:
        done = (
            Purchase.objects.filter(
                checkout_session_id=checkout_session_id,
                status__in=(Purchase.Status.PAID, Purchase.Status.REFUNDED),
            )
            .exclude(charge_id="")
            .first()
        )
        if done is not None:
            # Paid and recorded by the first caller (webhook or success page): nothing to
            # re-read (Stripe requests per order are bounded: docs/money.md).
            return done
        session = _retrieve_session(checkout_session_id)
    purchase_id = _purchase_id_from_session(session)
    if purchase_id is None:
        logger.info("checkout session %s is not a purchase of ours", checkout_session_id)
        return None
    # From an event: no savepoint inside the batch's transaction (what raises here raises out
    # of the handler, and the batch is redone with a savepoint per handler). Other callers may
    # catch what raises and go on in their transaction: a savepoint.
    with transaction.atomic(savepoint=not from_event):
        purchase = _locked_purchase(purchase_id)
        if purchase is None:
            logger.warning("checkout session %s names unknown purchase %s", session.id, purchase_id)
            return None
        if _needs_read(purchase, session):
            session = _retrieve_session(checkout_session_id)
        if purchase.checkout_session_id and purchase.checkout_session_id != session.id:
            # A stray second session of this purchase (its URL was never shown to the buyer).
            # If it was paid anyway, that money is not for the purchase: give it back in full.
            logger.error(
                "session %s is not the session of purchase %s (%s)",
                session.id,
                purchase.pk,
                purchase.checkout_session_id,
            )
            payment_intent = session.payment_intent_id
            if session.payment_status == "paid" and payment_intent:
                stripe_gateway.refund_create_for_order(
                    payment_intent_id=payment_intent,
                    order_id=purchase.orders.values_list("pk", flat=True).first() or 0,
                    reason="stray_checkout_session",
                    idempotency_key=stripe_gateway.idempotency_key(
                        "purchase", purchase.pk, "refund", session.id
                    ),
                    reverse_transfer=purchase.charge_type == Purchase.ChargeType.DESTINATION,
                )
            return purchase
        if not purchase.checkout_session_id:
            # The webhook came before our own request stored the session id.
            purchase.checkout_session_id = session.id
            purchase.checkout_url = session.url or ""
            purchase.save(update_fields=["checkout_session_id", "checkout_url", "updated_at"])
            _sync_orders(purchase, checkout_session_id=session.id)

        if session.status == "expired":
            if purchase.status == Purchase.Status.PENDING:
                canceled = purchase.cancel_requested_at is not None
                _release(purchase, Order.Status.CANCELED if canceled else Order.Status.EXPIRED)
            return purchase
        if session.status != "complete":
            return purchase
        if session.payment_status not in ("paid", "no_payment_required"):
            if purchase.status == Purchase.Status.PENDING:
                _mark_payment_processing(purchase)
            return purchase
        _record_payment(purchase, session)
    _hand_over_charge(session)
    return purchase


def _needs_read(purchase: Purchase, session: CheckoutSession) -> bool:
    """A paid session as its event stated it (no charge ids) is not enough: several sellers'
    transfers need the charge (unless its own event told it already), and charge ids the
    purchase holds of another payment (a stray session's charge) must not be kept."""
    if session.status != "complete" or session.charge_id:
        return False
    told_ids = bool(purchase.charge_id) and purchase.payment_intent_id == session.payment_intent_id
    if purchase.charge_id and not told_ids:
        return True
    return purchase.charge_type != Purchase.ChargeType.DESTINATION and not told_ids


def purchase_charge_told(*, purchase_id: int, charge: Charge) -> None:
    """A succeeded charge's own event names the purchase it pays (``metadata.purchase_id``):
    its ids (payment intent, charge, receipt; a destination charge's transfer and application
    fee) are recorded on the purchase and its orders that have none yet, whatever their status
    (its Checkout Session's event may come before or after). Two UPDATEs, no request."""
    now = timezone.now()
    ids = {
        "payment_intent_id": charge.payment_intent_id,
        "charge_id": charge.id,
        "receipt_url": charge.receipt_url,
    }
    Purchase.objects.filter(pk=purchase_id, charge_id="").update(**ids, updated_at=now)
    missing = Q(charge_id="")
    if charge.transfer_id:
        # Named by the charge's ``charge.updated`` (asynchronous capture), after its ids.
        ids.update(transfer_id=charge.transfer_id, application_fee_id=charge.application_fee_id)
        missing |= Q(charge_id=charge.id, transfer_id="")
    Order.objects.filter(missing, purchase_id=purchase_id).update(**ids, updated_at=now)


def _hand_over_charge(session: CheckoutSession) -> None:
    """Give the charge this read told to ``hooks.PAYMENT_READ_HOOKS`` (the ledger), each in a
    savepoint of its own: a hook's failure is logged, never undoes the fulfilment."""
    charge = session.charge
    if charge is None or charge.status != "succeeded":
        return
    for hook in hooks.PAYMENT_READ_HOOKS:
        try:
            with transaction.atomic():
                hook(charge)
        except Exception:
            logger.exception("session %s: handing charge %s over failed", session.id, charge.id)


def order_fulfil(*, checkout_session_id: str) -> Order | None:
    """``purchase_fulfil``, answering with the purchase's first order (or None)."""
    purchase = purchase_fulfil(checkout_session_id=checkout_session_id)
    if purchase is None:
        return None
    return purchase.orders.order_by("pk").first()


def _mark_payment_processing(purchase: Purchase) -> None:
    """The buyer completed Checkout with a delayed payment method (locked, pending purchase)."""
    now = timezone.now()
    purchase.payment_processing_since = purchase.payment_processing_since or now
    purchase.expires_at = max(purchase.expires_at, now + settings.ORDER_DELAYED_PAYMENT_WINDOW)
    purchase.save(update_fields=["payment_processing_since", "expires_at", "updated_at"])
    _sync_orders(
        purchase,
        payment_processing_since=purchase.payment_processing_since,
        expires_at=purchase.expires_at,
    )


class _StockGone(Exception):
    pass


def _record_payment(purchase: Purchase, session: CheckoutSession) -> None:
    if session.amount_total != purchase.amount or (session.currency or "") != purchase.currency:
        raise GatewayError(
            f"session {session.id} charged {session.amount_total} {session.currency}, "
            f"purchase {purchase.pk} is {purchase.amount} {purchase.currency}"
        )
    destination = purchase.charge_type == Purchase.ChargeType.DESTINATION
    # A session as its event stated it has no charge ids: the ones the charge's own event
    # recorded already (``purchase_charge_told``; ``_needs_read`` checked they are this
    # payment's) are kept.
    ids = {
        "payment_intent_id": session.payment_intent_id,
        "charge_id": session.charge_id or purchase.charge_id,
        "receipt_url": session.receipt_url or purchase.receipt_url,
    }
    order_ids = dict(ids)
    if destination:
        order_ids["transfer_id"] = session.transfer_id
        order_ids["application_fee_id"] = session.application_fee_id
    orders = _locked_orders(purchase)
    if destination and not session.charge_id and orders:
        # Its one order's transfer and application fee as the charge's event told them.
        order_ids.update({k: v or getattr(orders[0], k) for k, v in order_ids.items()})
    shipping = session.shipping
    # The address Checkout collected, on the orders that have none: written with the order's
    # move to paid (one UPDATE), or on its own when the order does not move.
    addressed: dict[int, dict[str, Any]] = {}
    for order in orders:
        if shipping and not order.shipping_name and not order.shipping_address:
            order.shipping_name, order.shipping_address = shipping.name, shipping.address
            addressed[order.pk] = {
                "shipping_name": shipping.name,
                "shipping_address": shipping.address,
            }

    def save_addresses() -> None:
        for order in orders:
            if order.pk in addressed:
                order.save(update_fields=["shipping_name", "shipping_address", "updated_at"])

    if purchase.status in (Purchase.Status.PAID, Purchase.Status.REFUNDED):
        # Already done; fill in ids an earlier, less expanded read did not have.
        save_addresses()
        _fill_missing(purchase, ids)
        for order in orders:
            _fill_missing(order, order_ids)
        return

    lines = [(order, line) for order in orders for line in _lines_of(order)]
    if purchase.status == Purchase.Status.PENDING:
        for order, line in lines:
            converted = Listing.objects.filter(
                pk=line.listing_id, reserved__gte=line.quantity
            ).update(reserved=F("reserved") - line.quantity, sold=F("sold") + line.quantity)
            if converted != 1:
                raise RuntimeError(f"order {order.pk}: its reservation is missing on the listing")
    else:
        # Canceled, expired or failed: the reservations were released. Take every line's units
        # again if they are all still there; otherwise the buyer paid for something we no
        # longer have, and the whole payment goes back.
        try:
            with transaction.atomic():
                for _order, line in lines:
                    taken = (
                        Listing.objects.filter(pk=line.listing_id)
                        .filter(
                            Q(stock__isnull=True)
                            | Q(stock__gte=F("sold") + F("reserved") + line.quantity)
                        )
                        .update(sold=F("sold") + line.quantity)
                    )
                    if taken != 1:
                        raise _StockGone
        except _StockGone:
            save_addresses()
            _refund_late_payment(purchase, orders, ids, order_ids)
            return
    now = timezone.now()
    _move_purchase(purchase, Purchase.Status.PAID, paid_at=now, **ids)
    for order in orders:
        extra = {} if destination else {"transfer_status": Order.TransferStatus.PENDING}
        _move(
            order,
            Order.Status.PAID,
            paid_at=now,
            **order_ids,
            **extra,
            **addressed.get(order.pk, {}),
        )
        for hook in hooks.ORDER_PAID_HOOKS:
            hook(order)
        _send_after_commit(order.pk, "order_paid_buyer", "order_paid_seller")
    if not destination:
        from buyers import tasks

        purchase_id = purchase.pk
        transaction.on_commit(lambda: tasks.create_purchase_transfers.delay(purchase_id))


def _fill_missing(obj: Purchase | Order, ids: dict[str, str]) -> None:
    missing = {k: v for k, v in ids.items() if v and not getattr(obj, k)}
    if missing:
        for name, value in missing.items():
            setattr(obj, name, value)
        obj.save(update_fields=[*missing, "updated_at"])


def _refund_late_payment(
    purchase: Purchase, orders: list[Order], ids: dict[str, str], order_ids: dict[str, str]
) -> None:
    if not ids["payment_intent_id"]:
        raise GatewayError(f"purchase {purchase.pk}: paid session without a payment intent")
    destination = purchase.charge_type == Purchase.ChargeType.DESTINATION
    refund = stripe_gateway.refund_create_for_order(
        payment_intent_id=ids["payment_intent_id"],
        order_id=orders[0].pk if destination else 0,
        reason="sold_out_after_expiry",
        idempotency_key=(
            stripe_gateway.idempotency_key("order", orders[0].pk, "refund")
            if destination
            else stripe_gateway.idempotency_key("purchase", purchase.pk, "refund")
        ),
        # Several sellers: nothing was transferred yet, so there is nothing to reverse.
        reverse_transfer=destination,
    )
    now = timezone.now()
    _move_purchase(purchase, Purchase.Status.REFUNDED, paid_at=now, **ids)
    for order in orders:
        _move(
            order,
            Order.Status.REFUNDED,
            # One refund for the whole payment: its id is kept on the first order only.
            refund_id=refund.id if order is orders[0] else None,
            refunded_amount=order.amount,
            refunded_at=now,
            paid_at=now,
            **order_ids,
        )
        for hook in hooks.ORDER_REFUNDED_HOOKS:
            hook(order)
    logger.info(
        "purchase %s paid after its stock was released: refunded (%s)", purchase.pk, refund.id
    )
    _send_after_commit(orders[0].pk, "order_refunded_late_buyer")


def purchase_payment_failed(*, checkout_session_id: str) -> Purchase | None:
    """A delayed payment failed (``checkout.session.async_payment_failed``): release every line.

    The session is re-read first: if Stripe says it is paid after all, the purchase is fulfilled
    instead. The buyer is emailed after commit. Idempotent.
    """
    session = _retrieve_session(checkout_session_id)
    if session.payment_status in ("paid", "no_payment_required"):
        return purchase_fulfil(checkout_session_id=checkout_session_id)
    purchase_id = _purchase_id_from_session(session)
    if purchase_id is None:
        return None
    with transaction.atomic():
        purchase = Purchase.objects.select_for_update().filter(pk=purchase_id).first()
        if purchase is None or purchase.status != Purchase.Status.PENDING:
            return purchase
        _release(purchase, Order.Status.FAILED)
        for order_id in purchase.orders.values_list("pk", flat=True):
            _send_after_commit(order_id, "order_payment_failed")
        return purchase


def order_payment_failed(*, checkout_session_id: str) -> Order | None:
    """``purchase_payment_failed``, answering with the purchase's first order (or None)."""
    purchase = purchase_payment_failed(checkout_session_id=checkout_session_id)
    return purchase.orders.order_by("pk").first() if purchase is not None else None
