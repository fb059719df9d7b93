"""Writes of the buying side: purchases and their orders, stock reservations, Checkout,
fulfilment, and the transfers that pay each seller of a several-seller purchase.

Stock lives on the listing (``stock`` ever added, ``reserved`` by pending orders, ``sold``); the
database refuses ``sold + reserved > stock``. A purchase reserves every line's units when created
(conditional UPDATEs under row locks, all lines or none, so two buyers of the last unit get
exactly one reservation), turns them into ``sold`` when Stripe says it is paid, and releases them
all together when it is canceled, expires or fails.

Stripe is the source of truth for payment: ``purchase_fulfil`` re-reads the Checkout Session
through the gateway and never trusts a URL or a webhook payload. Every service here is idempotent
and moves statuses only forward (``Order.TRANSITIONS``, ``Purchase.TRANSITIONS``). The
``order_*`` services of the one-listing flow ("buy now") go through the same purchase code.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NoReturn

from django.conf import settings
from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone

from buyers.models import Order, OrderLine, Purchase
from buyers.selectors import listing_unavailable_reason
from marketplace import stripe_gateway
from marketplace.errors import MarketplaceError, PaymentError, UserFacingError
from marketplace.money import Money
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


# --- Creating a purchase ----------------------------------------------------------------------


@dataclass(frozen=True)
class LineRequest:
    """One line the buyer asks for: ``quantity`` units of a listing. ``unit_amount`` is the price
    the buyer was shown (the cart's); None when they buy straight from the listing's page."""

    listing_id: int
    quantity: int
    unit_amount: int | None = None


def check_quantity(quantity: object) -> int:
    """``quantity`` if it is a whole number from 1 to ORDER_MAX_QUANTITY; else a UserFacingError
    naming the field (the cart and "Buy now" share this rule)."""
    if isinstance(quantity, bool) or not isinstance(quantity, int):
        raise UserFacingError("Choose how many you want.", field="quantity")
    if quantity < 1:
        raise UserFacingError("Choose a quantity of at least 1.", field="quantity")
    if quantity > settings.ORDER_MAX_QUANTITY:
        raise UserFacingError(
            f"You can buy at most {settings.ORDER_MAX_QUANTITY} per order.", field="quantity"
        )
    return quantity


def purchase_create(
    *,
    buyer: User,
    lines: Sequence[LineRequest],
    client_token: uuid.UUID | None = None,
) -> Purchase:
    """Create a pending purchase of ``lines``: one order per seller, every line's units reserved.

    All or nothing, in one transaction: each listing row is locked (in id order, so two carts
    sharing listings cannot deadlock) and reserved with a conditional UPDATE; if one line
    cannot be had, nothing is reserved and ``UserFacingError`` says which and why (quantity
    below 1 or above ``settings.ORDER_MAX_QUANTITY``, more than is left, a listing that cannot
    be bought, a seller's own listing, a price that changed since the buyer saw it, lines in
    several currencies: one currency per payment). Of two buyers racing for the last unit,
    exactly one gets it.

    Prices and each seller's application fee (``sellers.fees.fee_quote`` on that seller's
    total, in the lines' category when they share one) are computed here and stored for good.
    The charge type is decided here, by the number of sellers: one seller, a destination charge;
    several, a charge on the platform and one transfer per seller. ``client_token`` comes from
    the form: the same buyer submitting it twice gets the first purchase back.
    """
    if not lines:
        raise UserFacingError("Your cart is empty.")
    for line in lines:
        check_quantity(line.quantity)
    if len({line.listing_id for line in lines}) != len(lines):
        raise UserFacingError("A listing appears twice; please reload your cart.")
    if client_token is not None:
        existing = Purchase.objects.filter(buyer=buyer, client_token=client_token).first()
        if existing is not None:
            return _same_purchase(existing, lines)
    try:
        with transaction.atomic():
            return _purchase_create_locked(buyer=buyer, lines=lines, client_token=client_token)
    except IntegrityError:
        # The same form submitted twice at the same instant: the other submit won.
        if client_token is None:
            raise
        existing = Purchase.objects.filter(buyer=buyer, client_token=client_token).first()
        if existing is None:
            raise
        return _same_purchase(existing, lines)


def _same_purchase(purchase: Purchase, lines: Sequence[LineRequest]) -> Purchase:
    bought = set(
        OrderLine.objects.filter(order__purchase=purchase).values_list("listing_id", flat=True)
    )
    if bought != {line.listing_id for line in lines}:
        raise UserFacingError("This form was already used for another order; please reload.")
    return purchase


def _purchase_create_locked(
    *, buyer: User, lines: Sequence[LineRequest], client_token: uuid.UUID | None
) -> Purchase:
    several = len(lines) > 1
    ids = sorted(line.listing_id for line in lines)
    listings = {
        listing.pk: listing
        for listing in Listing.objects.select_for_update(of=("self",))
        .select_related("seller", "category")
        .filter(pk__in=ids)
        .order_by("pk")
    }

    def refuse(listing: Listing | None, message: str, field: str | None = None) -> NoReturn:
        if several and listing is not None:
            message = f"{listing.title}: {message}"
        raise UserFacingError(message, field=field)

    currencies = {listings[i].currency for i in ids if i in listings}
    if len(currencies) > 1:
        raise UserFacingError(
            "These items are priced in different currencies; each currency is paid separately."
        )
    for line in lines:
        listing = listings.get(line.listing_id)
        if listing is None or listing.status in (Listing.Status.DRAFT, Listing.Status.DELETED):
            refuse(listing, "This listing is no longer for sale.")
        if listing.seller.user_id == buyer.pk:
            refuse(listing, "You cannot buy your own listing.")
        reason = listing_unavailable_reason(listing, quantity=line.quantity)
        if reason is not None:
            refuse(listing, reason, "quantity" if "left in stock" in reason else None)
        if line.unit_amount is not None and line.unit_amount != listing.price_amount:
            refuse(
                listing,
                f"The price changed to {listing.price}; please check your cart and pay again.",
            )
        # The row lock serialises buyers on PostgreSQL; the condition keeps the invariant even
        # without it (SQLite serialises writers anyway).
        reserved = (
            Listing.objects.filter(pk=listing.pk)
            .filter(Q(stock__isnull=True) | Q(stock__gte=F("sold") + F("reserved") + line.quantity))
            .update(reserved=F("reserved") + line.quantity)
        )
        if reserved != 1:
            refuse(listing, SOLD_OUT)

    by_seller: dict[int, list[LineRequest]] = {}
    for line in lines:
        by_seller.setdefault(listings[line.listing_id].seller_id, []).append(line)
    currency = currencies.pop()
    expires_at = _checkout_deadline(timezone.now())
    quotes = {}
    for seller_id, seller_lines in by_seller.items():
        first = listings[seller_lines[0].listing_id]
        total = sum(listings[x.listing_id].price_amount * x.quantity for x in seller_lines)
        categories = {listings[x.listing_id].category_id for x in seller_lines}
        quotes[seller_id] = fee_quote(
            amount=Money(total, currency),
            seller=first.seller,
            category=first.category if len(categories) == 1 else None,
        )
    purchase = Purchase.objects.create(
        buyer=buyer,
        client_token=client_token or uuid.uuid4(),
        charge_type=(
            Purchase.ChargeType.DESTINATION if len(by_seller) == 1 else Purchase.ChargeType.SEPARATE
        ),
        currency=currency,
        amount=sum(q.amount.amount for q in quotes.values()),
        application_fee_amount=sum(q.fee.amount for q in quotes.values()),
        buyer_email=getattr(buyer, "email", ""),
        expires_at=expires_at,
    )
    for seller_id, seller_lines in by_seller.items():
        first = listings[seller_lines[0].listing_id]
        one = len(seller_lines) == 1
        title = first.title if one else f"{first.title} + {len(seller_lines) - 1} more"
        order = Order.objects.create(
            purchase=purchase,
            buyer=buyer,
            seller=first.seller,
            listing=first if one else None,
            client_token=uuid.uuid4()
            if client_token is None or len(by_seller) > 1
            else client_token,
            title=title[:160],
            unit_amount=first.price_amount if one else None,
            quantity=sum(x.quantity for x in seller_lines),
            currency=currency,
            amount=quotes[seller_id].amount.amount,
            application_fee_amount=quotes[seller_id].fee.amount,
            buyer_email=purchase.buyer_email,
            expires_at=expires_at,
        )
        OrderLine.objects.bulk_create(
            OrderLine(
                order=order,
                listing=listings[x.listing_id],
                title=listings[x.listing_id].title,
                unit_amount=listings[x.listing_id].price_amount,
                quantity=x.quantity,
                amount=listings[x.listing_id].price_amount * x.quantity,
            )
            for x in seller_lines
        )
    return purchase


def order_create(
    *,
    buyer: User,
    listing_id: int,
    quantity: int,
    client_token: uuid.UUID | None = None,
) -> Order:
    """ "Buy now": a purchase of one line (``purchase_create``), returning its one order.

    Same refusals and guarantees as ``purchase_create``: a quantity below 1 or above
    ``settings.ORDER_MAX_QUANTITY``, more units than are left, a listing that cannot be bought
    (paused, deleted, seller unable to take payments), a seller's own listing
    (``UserFacingError``, nothing written); the last unit goes to exactly one of two racing
    buyers; the price and the application fee (``sellers.fees.fee_quote``) are computed on the
    server and stored for good; the same ``client_token`` twice returns the first order.
    """
    purchase = purchase_create(
        buyer=buyer,
        lines=[LineRequest(listing_id=listing_id, quantity=quantity)],
        client_token=client_token,
    )
    return purchase.orders.get()


# --- Checkout ---------------------------------------------------------------------------------


def _checkout_key(purchase: Purchase) -> str:
    if purchase.checkout_attempts == 0:
        return stripe_gateway.idempotency_key("purchase", purchase.pk, "checkout")
    return stripe_gateway.idempotency_key(
        "purchase", purchase.pk, "checkout", purchase.checkout_attempts
    )


def _sync_orders(purchase: Purchase, **fields: Any) -> None:
    """Copy the purchase's payment facts onto its orders (the seller's view of them)."""
    Order.objects.filter(purchase=purchase).update(**fields, updated_at=timezone.now())


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


# --- Fulfilment -------------------------------------------------------------------------------


def _purchase_id_from_session(session: CheckoutSession) -> int | None:
    """The purchase a session pays: its metadata, or (sessions made before purchases existed)
    the order named by its metadata or ``client_reference_id``."""
    if session.purchase_id is not None:
        return session.purchase_id
    order_id = session.order_id
    if order_id is None:
        return None
    return Order.objects.filter(pk=order_id).values_list("purchase_id", flat=True).first()


def _retrieve_session(checkout_session_id: str) -> CheckoutSession:
    try:
        return stripe_gateway.checkout_session_retrieve(
            session_id=checkout_session_id, expand=["payment_intent.latest_charge"]
        )
    except GatewayError as exc:
        if exc.http_status == 404:
            raise UserFacingError("We do not know this checkout session.") from exc
        raise


def _locked_orders(purchase: Purchase) -> list[Order]:
    return list(Order.objects.select_for_update().filter(purchase=purchase).order_by("pk"))


def purchase_fulfil(*, checkout_session_id: str) -> Purchase | None:
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
    """
    done = (
        Purchase.objects.filter(
            checkout_session_id=checkout_session_id,
            status__in=(Purchase.Status.PAID, Purchase.Status.REFUNDED),
        )
        .exclude(charge_id="")
        .first()
    )
    if done is not None:
        # Paid and recorded by the first caller (webhook or success page): nothing to re-read
        # (Stripe requests per order are bounded: docs/architecture.md).
        return done
    session = _retrieve_session(checkout_session_id)
    purchase_id = _purchase_id_from_session(session)
    if purchase_id is None:
        logger.info("checkout session %s is not a purchase of ours", checkout_session_id)
        return None
    with transaction.atomic():
        purchase = Purchase.objects.select_for_update().filter(pk=purchase_id).first()
        if purchase is None:
            logger.warning("checkout session %s names unknown purchase %s", session.id, purchase_id)
            return None
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
        return purchase


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


def _lines_of(order: Order) -> list[OrderLine]:
    return list(order.lines.order_by("listing_id"))


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
    purchase.save(update_fields=["status", "updated_at", *fields])


class _StockGone(Exception):
    pass


def _record_payment(purchase: Purchase, session: CheckoutSession) -> None:
    if session.amount_total != purchase.amount or (session.currency or "") != purchase.currency:
        raise GatewayError(
            f"session {session.id} charged {session.amount_total} {session.currency}, "
            f"purchase {purchase.pk} is {purchase.amount} {purchase.currency}"
        )
    destination = purchase.charge_type == Purchase.ChargeType.DESTINATION
    ids = {
        "payment_intent_id": session.payment_intent_id,
        "charge_id": session.charge_id,
        "receipt_url": session.receipt_url,
    }
    order_ids = dict(ids)
    if destination:
        order_ids["transfer_id"] = session.transfer_id
        order_ids["application_fee_id"] = session.application_fee_id
    orders = _locked_orders(purchase)
    shipping = session.shipping
    for order in orders:
        if shipping and not order.shipping_name and not order.shipping_address:
            order.shipping_name, order.shipping_address = shipping.name, shipping.address
            order.save(update_fields=["shipping_name", "shipping_address", "updated_at"])
    if purchase.status in (Purchase.Status.PAID, Purchase.Status.REFUNDED):
        # Already done; fill in ids an earlier, less expanded read did not have.
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
            _refund_late_payment(purchase, orders, ids, order_ids)
            return
    now = timezone.now()
    _move_purchase(purchase, Purchase.Status.PAID, paid_at=now, **ids)
    for order in orders:
        extra = {} if destination else {"transfer_status": Order.TransferStatus.PENDING}
        _move(order, Order.Status.PAID, paid_at=now, **order_ids, **extra)
        for hook in ORDER_PAID_HOOKS:
            hook(order)
        _send_after_commit(order.pk, "order_paid_buyer")
        _send_after_commit(order.pk, "order_paid_seller")
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
        for hook in ORDER_REFUNDED_HOOKS:
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


def purchase_close(*, purchase_id: int, status: str) -> Purchase:
    """Cancel (the buyer came back from Checkout) or expire (deadline passed) a pending purchase.

    If it has a Checkout Session, the session is expired in Stripe first so that it can no
    longer be paid; when Stripe refuses (already completed) the purchase is brought in line with
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


# --- Transfers of a purchase with several sellers ---------------------------------------------

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
