"""On-site payment: a purchase paid on our own page with Stripe.js and the Payment Element
(``CHECKOUT_UI=elements``), saved cards, and orders the seller accepts before the card is charged.

The money shape is the hosted Checkout's: one seller, a destination charge keeping the order's
application fee; several sellers, a charge on the platform with ``transfer_group`` = the
purchase, paid out by the transfers job. The PaymentIntent is created once per purchase
(idempotency key ``purchase-<id>-payment-intent``) with the amount of our purchase; the browser
only gets its client secret. Stripe is the source of truth: ``payment_intent_sync`` re-reads the
intent and is called by the return page and by the ``payment_intent.*`` webhooks, whichever
comes first; a paid intent is recorded by the same fulfilment code as a paid Checkout Session.

Orders the seller accepts (a listing's ``accepts_orders_first``): the intent only authorises the
card (``capture_method=manual``); once authorised the purchase is ``authorized`` and its orders
``awaiting_seller`` (stock still reserved) until ``accept_by`` (``ORDER_ACCEPT_WINDOW``, at most
the authorisation's 7 days). The seller accepts (capture, all or fewer units, the application
fee pro rata to what is captured) or declines (cancel: stock released, buyer told); the periodic
job cancels what passes its deadline. Such a purchase has one seller: a cart mixing a seller who
accepts first with other sellers is refused before any payment, with a clear message.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from buyers import customers
from buyers.models import Order, OrderLine, Purchase
from buyers.services import hooks
from buyers.services._common import _move, _move_purchase
from buyers.services.expiry import purchase_close
from buyers.services.fulfilment import _record_payment
from marketplace import stripe_gateway
from marketplace.errors import PaymentError, UserFacingError
from marketplace.stripe_gateway import CheckoutSession, GatewayError, PaymentIntent
from sellers.models import Listing, Seller

logger = logging.getLogger(__name__)

OPEN_STATUSES = frozenset({"requires_payment_method", "requires_confirmation", "requires_action"})
MIXED_ACCEPTANCE = (
    "{seller} accepts each order before it is charged, so their items are paid on their own. "
    "Your order was canceled and nothing was charged: please buy {seller}'s items and the "
    "others separately."
)


class PurchaseNotFound(UserFacingError):
    """Not one of the asking buyer's purchases (views answer 404)."""


# --- Which page a purchase is paid on -------------------------------------------------------


def onsite_available() -> bool:
    """Whether the on-site page can run: always on the sandbox; with real Stripe, when the
    publishable key is set (settings refuse ``CHECKOUT_UI=elements`` without it)."""
    return stripe_gateway.stripe_js_available()


def acceptance_available() -> bool:
    """Sellers may accept orders before the charge only where the on-site page can run (an
    authorisation is confirmed there)."""
    return onsite_available()


def purchase_needs_acceptance(purchase: Purchase) -> bool:
    """A line's listing asks its seller to accept each order before it is charged."""
    if purchase.needs_acceptance:
        return True
    return (
        acceptance_available()
        and OrderLine.objects.filter(
            order__purchase=purchase, listing__accepts_orders_first=True
        ).exists()
    )


def pays_onsite(purchase: Purchase) -> bool:
    """The purchase is paid on our own page (``CHECKOUT_UI=elements``, or a seller accepts
    first) rather than on Stripe's hosted Checkout; a purchase that already has a Checkout
    Session stays there."""
    if purchase.checkout_session_id:
        return False
    if purchase.payment_intent_id:
        return True
    return settings.CHECKOUT_UI == "elements" or purchase_needs_acceptance(purchase)


def stripe_clock_now() -> datetime:
    """Now on Stripe's clock (real time with real Stripe; the sandbox's, which tests advance):
    acceptance deadlines are measured on it, like the authorisation's 7 days."""
    return timezone.now() + (
        datetime.fromtimestamp(stripe_gateway.stripe_now(), tz=UTC)
        - datetime.fromtimestamp(int(time.time()), tz=UTC)
    )


# --- Starting the payment -----------------------------------------------------------------------


def _buyer_purchase(purchase_id: int, buyer: User) -> Purchase:
    purchase = Purchase.objects.filter(pk=purchase_id, buyer=buyer).first()
    if purchase is None:
        raise PurchaseNotFound("We could not find this order.")
    return purchase


def _intent_key(purchase: Purchase) -> str:
    return stripe_gateway.idempotency_key("purchase", purchase.pk, "payment-intent")


def _check_payable(purchase: Purchase) -> None:
    if purchase.status == Purchase.Status.PAID:
        raise UserFacingError("This order is already paid.")
    if purchase.status == Purchase.Status.AUTHORIZED:
        raise UserFacingError("Your card is authorised; the seller now accepts the order.")
    if purchase.status != Purchase.Status.PENDING:
        raise UserFacingError("This order can no longer be paid; please order again.")
    if purchase.expires_at <= timezone.now():
        closed = purchase_close(purchase_id=purchase.pk, status=Purchase.Status.EXPIRED)
        if closed.status == Purchase.Status.PAID:
            raise UserFacingError("This order is already paid.")
        raise UserFacingError(
            "This order expired; the items are no longer held. Please order again."
        )


def purchase_payment_intent(*, purchase_id: int, buyer: User) -> PaymentIntent:
    """The PaymentIntent that pays ``buyer``'s pending purchase on our page, created once.

    Contract: the amount, currency and split come from the purchase (never the browser); one
    seller is a destination charge with the order's application fee, several a platform charge
    with ``transfer_group`` (the transfers job pays each seller); the buyer's Customer is set,
    so a card can be saved. A seller who accepts orders first: ``capture_method=manual``, and
    only alone in the purchase (else the purchase is canceled, reservations released, with a
    ``UserFacingError`` saying why). Raises ``PurchaseNotFound`` for another buyer's purchase,
    ``UserFacingError`` when it cannot be paid any more, ``PaymentError`` (retryable) when
    Stripe cannot be reached (the purchase stays pending with its reservations).
    """
    purchase = _buyer_purchase(purchase_id, buyer)
    _check_payable(purchase)
    if purchase.payment_intent_id:
        intent = stripe_gateway.payment_intent_retrieve(
            payment_intent_id=purchase.payment_intent_id
        )
        if intent.status not in OPEN_STATUSES:
            payment_intent_sync(payment_intent_id=intent.id)
            purchase.refresh_from_db()
            _check_payable(purchase)
        return intent

    orders = list(purchase.orders.select_related("seller").order_by("pk"))
    for order in orders:
        if not order.seller.can_sell or not order.seller.stripe_account_id:
            purchase_close(purchase_id=purchase.pk, status=Purchase.Status.CANCELED)
            raise UserFacingError(
                f"{order.seller} cannot take payments right now; your order was canceled and "
                "nothing was charged."
            )
    needs_acceptance = purchase_needs_acceptance(purchase)
    if needs_acceptance and len(orders) > 1:
        accepting = (
            Seller.objects.filter(
                listings__order_lines__order__purchase=purchase,
                listings__accepts_orders_first=True,
            )
            .distinct()
            .first()
        )
        purchase_close(purchase_id=purchase.pk, status=Purchase.Status.CANCELED)
        raise UserFacingError(MIXED_ACCEPTANCE.format(seller=accepting))

    destination = purchase.charge_type == Purchase.ChargeType.DESTINATION
    try:
        # The buyer's Customer if they have one (saved cards); a first-time buyer gets one only
        # when they ask to save the card.
        customer_id = customers.customer_id_of(buyer)
        intent = stripe_gateway.payment_intent_create(
            purchase_id=purchase.pk,
            order_id=orders[0].pk if destination else None,
            amount=purchase.amount,
            currency=purchase.currency,
            application_fee_amount=orders[0].application_fee_amount if destination else None,
            destination=orders[0].seller.stripe_account_id if destination else None,
            transfer_group=None if destination else purchase.transfer_group,
            on_behalf_of=settings.STRIPE_ON_BEHALF_OF,
            customer_id=customer_id,
            receipt_email=purchase.buyer_email,
            manual_capture=needs_acceptance,
            idempotency_key=_intent_key(purchase),
        )
    except (GatewayError, PaymentError) as exc:
        logger.warning("payment intent for purchase %s failed: %s", purchase.pk, exc)
        Purchase.objects.filter(pk=purchase.pk).update(checkout_last_error=str(exc)[:255])
        raise PaymentError(
            "We could not reach our payment provider. Your order is saved and the items are held "
            "for you; please try again in a moment.",
            retryable=True,
        ) from exc
    with transaction.atomic():
        stored = Purchase.objects.filter(
            pk=purchase.pk, payment_intent_id="", checkout_session_id__isnull=True
        ).update(
            payment_intent_id=intent.id,
            needs_acceptance=needs_acceptance,
            checkout_last_error="",
            updated_at=timezone.now(),
        )
        if stored:
            Order.objects.filter(purchase=purchase).update(
                payment_intent_id=intent.id, updated_at=timezone.now()
            )
    if not stored:
        purchase.refresh_from_db()
        if purchase.payment_intent_id != intent.id:
            raise UserFacingError("This order is being paid another way; see its page.")
    return intent


def purchase_save_card_choice(
    *, purchase_id: int, buyer: User, save_card: bool, attempt: str
) -> None:
    """Record on the purchase's PaymentIntent whether the buyer ticked "save this card"
    (``setup_future_usage=off_session`` saves the card to their customer when it pays).
    ``attempt`` names one press of Pay (from the page), so each press is its own request."""
    purchase = _buyer_purchase(purchase_id, buyer)
    if not purchase.payment_intent_id or purchase.status != Purchase.Status.PENDING:
        raise UserFacingError("This order can no longer be paid; please order again.")
    if not save_card and not customers.customer_id_of(buyer):
        return  # nothing was asked to be saved, and there is no customer to save to
    stripe_gateway.payment_intent_set_future_usage(
        payment_intent_id=purchase.payment_intent_id,
        save_card=save_card,
        customer_id=customers.customer_for_buyer(user=buyer) if save_card else "",
        idempotency_key=stripe_gateway.idempotency_key(
            "purchase", purchase.pk, "save-card", attempt[:40], int(save_card)
        ),
    )


def purchase_pay_with_saved_card(
    *, purchase_id: int, buyer: User, payment_method_id: str, return_url: str, attempt: str
) -> PaymentIntent:
    """Pay the purchase with one of the buyer's saved cards in one click: the intent is
    confirmed server-side with the buyer present (``off_session`` false). Answers the intent:
    ``succeeded``/``requires_capture`` (recorded at once), or ``requires_action`` when the bank
    asks the buyer to authenticate (the page finishes it with Stripe.js). A decline raises
    ``PaymentError`` with Stripe's message. ``CardNotFound`` for a card that is not the buyer's.
    ``attempt`` names one press of the button: a double click confirms once."""
    customers.saved_card(user=buyer, payment_method_id=payment_method_id)
    purchase = _buyer_purchase(purchase_id, buyer)
    if (
        purchase.status in (Purchase.Status.PAID, Purchase.Status.AUTHORIZED)
        and purchase.payment_intent_id
        and not purchase.checkout_session_id
    ):
        # A second click after the first went through: the same answer, nothing confirmed.
        return stripe_gateway.payment_intent_retrieve(payment_intent_id=purchase.payment_intent_id)
    intent = purchase_payment_intent(purchase_id=purchase_id, buyer=buyer)
    if not intent.customer_id:
        # The page was opened before the buyer had a customer: the card's customer first.
        intent = stripe_gateway.payment_intent_set_future_usage(
            payment_intent_id=intent.id,
            save_card=False,
            customer_id=customers.customer_id_of(buyer),
            idempotency_key=stripe_gateway.idempotency_key(
                "purchase", purchase_id, "customer", attempt[:40]
            ),
        )
    try:
        intent = stripe_gateway.payment_intent_confirm_saved_card(
            payment_intent_id=intent.id,
            payment_method_id=payment_method_id,
            return_url=return_url,
            idempotency_key=stripe_gateway.idempotency_key(
                "purchase", purchase_id, "confirm", payment_method_id, attempt[:40]
            ),
        )
    except GatewayError as exc:
        if exc.code == "payment_intent_unexpected_state":
            payment_intent_sync(payment_intent_id=intent.id)
            raise UserFacingError("This order is already being paid; see its page.") from exc
        raise
    if intent.status not in OPEN_STATUSES:
        payment_intent_sync(payment_intent_id=intent.id)
    return intent


# --- Recording what Stripe says -----------------------------------------------------------------


def _as_session(intent: PaymentIntent) -> CheckoutSession:
    """The paid intent in the shape the hosted flow's fulfilment reads, so both record a
    payment with the same code (stock, statuses, ledger hooks, emails, transfers)."""
    return CheckoutSession(
        id=intent.id,
        url="",
        mode="payment",
        status="complete",
        payment_status="paid",
        amount_total=intent.amount_received or intent.amount,
        currency=intent.currency,
        client_reference_id=f"purchase-{intent.purchase_id}",
        metadata=intent.metadata,
        customer_email="",
        expires_at=None,
        success_url="",
        payment_intent_id=intent.id,
        charge_id=intent.charge_id,
        transfer_id=intent.transfer_id,
        application_fee_id=intent.application_fee_id,
        receipt_url=intent.receipt_url,
        shipping=intent.shipping,
    )


def _send(order_id: int, kind: str) -> None:
    from buyers import tasks

    transaction.on_commit(lambda: tasks.send_order_email.delay(order_id, kind))


def payment_intent_sync(*, payment_intent_id: str) -> Purchase | None:
    """Bring a purchase paid on our page in line with its PaymentIntent as Stripe sees it.
    Idempotent; called by the return page and the ``payment_intent.*`` webhooks.

    ``succeeded``: recorded as paid by the hosted flow's own fulfilment (or, for an authorised
    purchase captured elsewhere, as captured in full); ``requires_capture``: the purchase is
    authorised and waits for its seller (emails to both); ``canceled``: its reservations are
    released (expired when Stripe released the authorisation itself); a failed attempt
    (``requires_payment_method``) changes nothing: the buyer may try another card until the
    purchase's deadline. An intent that is not the purchase's is only logged.
    """
    try:
        intent = stripe_gateway.payment_intent_retrieve(payment_intent_id=payment_intent_id)
    except GatewayError as exc:
        if exc.http_status == 404:
            raise UserFacingError("We do not know this payment.") from exc
        raise
    purchase_id = intent.purchase_id
    if purchase_id is None:
        return None
    with transaction.atomic():
        purchase = Purchase.objects.select_for_update().filter(pk=purchase_id).first()
        if purchase is None:
            return None
        if purchase.checkout_session_id:
            # Paid on hosted Checkout: its session's handlers record it (with what Checkout
            # collected, e.g. the shipping address).
            return purchase
        if not purchase.payment_intent_id and intent.status not in (
            "succeeded",
            "requires_capture",
        ):
            # Not (or no longer) the purchase's intent: nothing to release for it.
            return purchase
        if purchase.payment_intent_id and purchase.payment_intent_id != intent.id:
            logger.error(
                "intent %s is not the intent of purchase %s (%s)",
                intent.id,
                purchase.pk,
                purchase.payment_intent_id,
            )
            return purchase
        if intent.status == "succeeded":
            if purchase.status == Purchase.Status.AUTHORIZED:
                _record_capture(purchase, intent, None)
            else:
                _record_payment(purchase, _as_session(intent))
        elif intent.status == "requires_capture" and purchase.status == Purchase.Status.PENDING:
            _mark_authorized(purchase)
        elif intent.status == "canceled" and purchase.status in (
            Purchase.Status.PENDING,
            Purchase.Status.AUTHORIZED,
        ):
            asked = purchase.cancel_requested_at is not None
            declined = purchase.status == Purchase.Status.AUTHORIZED and asked
            if purchase.status == Purchase.Status.PENDING:
                # Closed by us (the buyer canceled, or the purchase's deadline passed).
                expired = not asked
            else:
                expired = not declined and (
                    intent.cancellation_reason == "automatic"
                    or (purchase.accept_by is not None and purchase.accept_by <= stripe_clock_now())
                )
            _release_onsite(purchase, expired=expired, declined=declined)
        return purchase


def _mark_authorized(purchase: Purchase) -> None:
    """The card is authorised (locked, pending purchase): the orders wait for their seller."""
    now = timezone.now()
    accept_by = stripe_clock_now() + settings.ORDER_ACCEPT_WINDOW
    _move_purchase(purchase, Purchase.Status.AUTHORIZED, authorized_at=now, accept_by=accept_by)
    for order in Order.objects.select_for_update().filter(purchase=purchase).order_by("pk"):
        _move_order(order, Order.Status.AWAITING_SELLER)
        _send(order.pk, "order_awaiting_seller_buyer")
        _send(order.pk, "order_to_accept_seller")


def _move_order(order: Order, status: str, **fields: object) -> None:
    _move(order, status, **fields)


def _release_onsite(purchase: Purchase, *, expired: bool, declined: bool = False) -> None:
    """Give back the reserved units of a pending or authorised (locked) purchase; tell the
    buyer (and the seller, for an order that was waiting for them)."""
    now = timezone.now()
    status = Order.Status.EXPIRED if expired else Order.Status.CANCELED
    was_authorized = purchase.status == Purchase.Status.AUTHORIZED
    for order in Order.objects.select_for_update().filter(purchase=purchase).order_by("pk"):
        if order.status not in Order.HOLDS_RESERVATION:
            continue
        for line in order.lines.order_by("listing_id"):
            released = Listing.objects.filter(
                pk=line.listing_id, reserved__gte=line.quantity
            ).update(reserved=F("reserved") - line.quantity)
            if released != 1:
                raise RuntimeError(f"order {order.pk}: listing {line.listing_id} lost its hold")
        _move_order(order, status, closed_at=now)
        if declined:
            _send(order.pk, "order_declined_buyer")
        elif was_authorized:
            _send(order.pk, "order_not_accepted_buyer")
            if expired:
                _send(order.pk, "order_not_accepted_seller")
    _move_purchase(purchase, status, closed_at=now)


# --- The seller accepts or declines -------------------------------------------------------------


@dataclass(frozen=True)
class AcceptResult:
    order: Order
    captured: int  # minor units charged to the buyer
    message: str


def _seller_order(seller: Seller, order_id: int) -> Order:
    order = Order.objects.filter(pk=order_id, seller=seller).select_related("purchase").first()
    if order is None:
        raise PurchaseNotFound("We could not find this order.")
    return order


def _prorated_fee(fee: int, captured: int, amount: int) -> int:
    """The application fee of ``captured`` out of ``amount``: the order's fee pro rata,
    rounded half up (integer minor units)."""
    if amount <= 0 or captured >= amount:
        return fee
    return (fee * captured * 2 + amount) // (amount * 2)


def order_accept(*, seller: Seller, order_id: int, quantities: dict[int, int]) -> AcceptResult:
    """The seller accepts an order awaiting them: the authorised card is charged (captured) for
    the units they can fill (``quantities``: order line id -> units, each from 0 to what was
    ordered, at least one unit in all; missing lines are filled in full). The application fee is
    the order's, pro rata to what is captured; units not filled go back on sale.

    After the deadline, or when Stripe released the authorisation (7 days), nothing is charged:
    the order is canceled, the stock released, the buyer told, and ``UserFacingError`` says so.
    Idempotent per amount (``purchase-<id>-capture-<amount>``). ``PurchaseNotFound`` for another
    seller's order.
    """
    order = _seller_order(seller, order_id)
    purchase = order.purchase
    if order.status != Order.Status.AWAITING_SELLER:
        raise UserFacingError("This order is not waiting for you to accept it.")
    lines = list(order.lines.order_by("pk"))
    filled: dict[int, int] = {}
    for line in lines:
        quantity = quantities.get(line.pk, line.quantity)
        if isinstance(quantity, bool) or not isinstance(quantity, int):
            raise UserFacingError("Enter how many units you can send.", field="quantity")
        if not 0 <= quantity <= line.quantity:
            raise UserFacingError(
                f"You can send from 0 to {line.quantity} of {line.title}.", field="quantity"
            )
        filled[line.pk] = quantity
    captured = sum(line.unit_amount * filled[line.pk] for line in lines)
    if captured <= 0:
        raise UserFacingError("Accept at least one unit, or decline the order.", field="quantity")
    if purchase.accept_by is not None and purchase.accept_by <= stripe_clock_now():
        _cancel_intent(purchase, expired=True)
        raise UserFacingError(
            "The time to accept this order has passed: it was canceled, nothing was charged and "
            "the buyer was told."
        )
    destination = purchase.charge_type == Purchase.ChargeType.DESTINATION
    fee = _prorated_fee(order.application_fee_amount, captured, order.amount)
    Order.objects.filter(pk=order.pk, status=Order.Status.AWAITING_SELLER).update(
        accepted_lines={str(k): v for k, v in filled.items()}, updated_at=timezone.now()
    )
    try:
        intent = stripe_gateway.payment_intent_capture(
            payment_intent_id=purchase.payment_intent_id,
            amount_to_capture=captured,
            application_fee_amount=fee if destination else None,
            idempotency_key=stripe_gateway.idempotency_key(
                "purchase", purchase.pk, "capture", captured
            ),
        )
    except (GatewayError, PaymentError) as exc:
        current = stripe_gateway.payment_intent_retrieve(
            payment_intent_id=purchase.payment_intent_id
        )
        if current.status == "canceled":
            payment_intent_sync(payment_intent_id=current.id)
            order.refresh_from_db()
            raise UserFacingError(
                "The buyer's card authorisation expired before you accepted: the order was "
                "canceled, nothing was charged and the buyer was told."
            ) from exc
        if current.status != "succeeded":
            raise
        intent = current
    with transaction.atomic():
        locked = Purchase.objects.select_for_update().get(pk=purchase.pk)
        if locked.status == Purchase.Status.AUTHORIZED:
            _record_capture(locked, intent, filled)
    order.refresh_from_db()
    return AcceptResult(order=order, captured=intent.amount_received, message="")


def _record_capture(
    purchase: Purchase, intent: PaymentIntent, filled: dict[int, int] | None
) -> None:
    """Record a captured authorisation (locked, authorised purchase): the filled units sold,
    the rest released, the order's lines, amount and fee cut to what was captured (the ledger
    then records only that), the purchase and its orders paid, emails and hooks as for any paid
    order. ``filled`` None: what the seller accepted (``Order.accepted_lines``), everything when
    they did not say (captured outside our accept button)."""

    now = timezone.now()
    total = 0
    total_fee = 0
    orders = list(Order.objects.select_for_update().filter(purchase=purchase).order_by("pk"))
    for order in orders:
        lines = list(order.lines.order_by("pk"))
        amount = 0
        quantity = 0
        accepted = filled
        if accepted is None:
            accepted = {int(k): int(v) for k, v in (order.accepted_lines or {}).items()}
        for line in lines:
            keep = accepted.get(line.pk, line.quantity)
            converted = Listing.objects.filter(
                pk=line.listing_id, reserved__gte=line.quantity
            ).update(reserved=F("reserved") - line.quantity, sold=F("sold") + keep)
            if converted != 1:
                raise RuntimeError(f"order {order.pk}: its reservation is missing on the listing")
            if keep == 0:
                line.delete()
                continue
            if keep != line.quantity:
                line.quantity = keep
                line.amount = keep * line.unit_amount
                line.save(update_fields=["quantity", "amount"])
            amount += line.amount
            quantity += keep
        fee = _prorated_fee(order.application_fee_amount, amount, order.amount)
        changes: dict[str, object] = {}
        if amount != order.amount:
            changes = {"amount": amount, "quantity": quantity, "application_fee_amount": fee}
        destination = purchase.charge_type == Purchase.ChargeType.DESTINATION
        ids = {
            "payment_intent_id": intent.id,
            "charge_id": intent.charge_id,
            "receipt_url": intent.receipt_url,
        }
        if destination:
            ids |= {
                "transfer_id": intent.transfer_id,
                "application_fee_id": intent.application_fee_id,
            }
        extra = {} if destination else {"transfer_status": Order.TransferStatus.PENDING}
        _move_order(order, Order.Status.PAID, paid_at=now, **changes, **ids, **extra)
        for hook in hooks.ORDER_PAID_HOOKS:
            hook(order)
        _send(order.pk, "order_accepted_buyer")
        _send(order.pk, "order_paid_seller")
        total += amount
        total_fee += order.application_fee_amount
    if intent.amount_received and intent.amount_received != total:
        logger.error(
            "purchase %s: captured %s, orders total %s", purchase.pk, intent.amount_received, total
        )
    _move_purchase(
        purchase,
        Purchase.Status.PAID,
        paid_at=now,
        amount=total,
        application_fee_amount=total_fee,
        payment_intent_id=intent.id,
        charge_id=intent.charge_id,
        receipt_url=intent.receipt_url,
    )
    if purchase.charge_type == Purchase.ChargeType.SEPARATE:
        from buyers import tasks

        purchase_id = purchase.pk
        transaction.on_commit(lambda: tasks.create_purchase_transfers.delay(purchase_id))


def _cancel_intent(purchase: Purchase, *, expired: bool, declined: bool = False) -> Purchase:
    """Cancel the purchase's authorisation in Stripe, then release it here. When Stripe
    refuses (already captured or canceled), the purchase follows the intent instead."""
    try:
        stripe_gateway.payment_intent_cancel(
            payment_intent_id=purchase.payment_intent_id,
            reason="abandoned",
            idempotency_key=stripe_gateway.idempotency_key("purchase", purchase.pk, "cancel"),
        )
    except (GatewayError, PaymentError) as exc:
        logger.info("canceling intent of purchase %s: %s", purchase.pk, exc)
        synced = payment_intent_sync(payment_intent_id=purchase.payment_intent_id)
        return synced or purchase
    with transaction.atomic():
        locked = Purchase.objects.select_for_update().get(pk=purchase.pk)
        if locked.status in (Purchase.Status.PENDING, Purchase.Status.AUTHORIZED):
            _release_onsite(locked, expired=expired, declined=declined)
        return locked


def order_decline(*, seller: Seller, order_id: int) -> Order:
    """The seller declines an order awaiting them: the authorisation is canceled (nothing is
    charged), the stock released, the buyer told. Idempotent. ``PurchaseNotFound`` for another
    seller's order."""
    order = _seller_order(seller, order_id)
    if order.status != Order.Status.AWAITING_SELLER:
        raise UserFacingError("This order is not waiting for you to accept it.")
    Purchase.objects.filter(pk=order.purchase_id, cancel_requested_at__isnull=True).update(
        cancel_requested_at=timezone.now()
    )
    _cancel_intent(order.purchase, expired=False, declined=True)
    order.refresh_from_db()
    return order


def acceptances_expire_due(*, now: datetime | None = None, limit: int = 200) -> int:
    """Cancel the authorised purchases whose seller did not accept by ``accept_by`` (Stripe's
    clock), releasing their stock and telling both sides (periodic job). Returns how many."""
    deadline = now or stripe_clock_now()
    closed = 0
    due = Purchase.objects.filter(
        status=Purchase.Status.AUTHORIZED, accept_by__lte=deadline
    ).order_by("accept_by", "pk")
    for purchase in list(due[:limit]):
        try:
            result = _cancel_intent(purchase, expired=True)
        except Exception:
            logger.exception("expiring the acceptance of purchase %s failed", purchase.pk)
            continue
        if result.status != Purchase.Status.AUTHORIZED:
            closed += 1
    return closed


def purchase_switch_to_hosted(*, purchase_id: int, buyer: User) -> None:
    """Stripe.js could not load: cancel the purchase's on-site intent (it could otherwise be
    paid too) so the buyer pays on hosted Checkout instead. Keeps the reservations. Raises
    ``UserFacingError`` when the intent is already paid or authorised (recorded instead)."""
    purchase = _buyer_purchase(purchase_id, buyer)
    _check_payable(purchase)
    intent_id = purchase.payment_intent_id
    if not intent_id:
        return

    def point_to(old: str, new: str) -> None:
        with transaction.atomic():
            Purchase.objects.filter(pk=purchase.pk, payment_intent_id=old).update(
                payment_intent_id=new, updated_at=timezone.now()
            )
            Order.objects.filter(purchase=purchase, payment_intent_id=old).update(
                payment_intent_id=new, updated_at=timezone.now()
            )

    # Unlinked first, so the payment_intent.canceled webhook does not release the purchase.
    point_to(intent_id, "")
    try:
        stripe_gateway.payment_intent_cancel(
            payment_intent_id=intent_id,
            reason="abandoned",
            idempotency_key=stripe_gateway.idempotency_key("purchase", purchase.pk, "cancel"),
        )
    except (GatewayError, PaymentError) as exc:
        point_to("", intent_id)
        payment_intent_sync(payment_intent_id=intent_id)
        purchase.refresh_from_db()
        _check_payable(purchase)
        raise UserFacingError("We could not switch this payment; please try again.") from exc
