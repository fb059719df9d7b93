"""Refunds: what remains refundable, the seller's share of a refund, and refund requests."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import models, transaction
from django.db.models import Sum
from django.utils import timezone

from marketplace.audit.services import Action, audit_record
from marketplace.errors import UserFacingError
from marketplace.money import Money, round_half_up
from payouts.models import (
    LedgerEntry,
    LedgerTransaction,
    SellerBalance,
)
from payouts.services._common import _money_label
from payouts.services.charge_sync import ledger_sync_charge
from payouts.services.ledger import (
    BUYER_REFUNDS,
    PLATFORM_BALANCE,
    LedgerError,
    seller_balance_account,
)
from sellers.models import Seller


@dataclass(frozen=True)
class Refundable:
    captured: int
    refunded: int
    currency: str

    @property
    def remaining(self) -> int:
        return max(self.captured - self.refunded, 0)


def refundable_of(*, charge_id: str) -> Refundable | None:
    """What has been captured and refunded for a charge, as far as we know: the ledger's
    refunds plus refunds Stripe accepted whose events have not arrived yet."""
    from payouts.models import RefundRequest

    charge = LedgerTransaction.objects.filter(
        kind=LedgerTransaction.Kind.CHARGE, stripe_object_id=charge_id
    ).first()
    if charge is None:
        return None
    legs = LedgerEntry.objects.filter(transaction=charge, account=PLATFORM_BALANCE)
    captured_leg = legs.first()
    if captured_leg is None:
        return None
    refunds = LedgerTransaction.objects.filter(
        kind=LedgerTransaction.Kind.REFUND, charge_id=charge_id
    )
    in_ledger = set(refunds.values_list("stripe_object_id", flat=True))
    refunded = (
        LedgerEntry.objects.filter(transaction__in=refunds, account=BUYER_REFUNDS).aggregate(
            total=Sum("amount")
        )["total"]
        or 0
    )
    refunded += sum(
        RefundRequest.objects.filter(charge_id=charge_id, status=RefundRequest.Status.SUCCEEDED)
        .exclude(stripe_refund_id__in=in_ledger)
        .values_list("amount", flat=True)
    )
    return Refundable(
        captured=int(captured_leg.amount), refunded=int(refunded), currency=captured_leg.currency
    )


def seller_share_of_refund(
    *, charge_id: str, seller_id: int, amount: int, refundable: Refundable | None = None
) -> int:
    """What a refund of ``amount`` on a sale takes back from the seller's balance, from the
    ledger, as Stripe computes it: the transfer is reversed and the application fee refunded
    (back to the seller) pro rata to the refund, ``round_half_up(share * amount / captured)``
    each; the refund of all that remains also sweeps the rounding residue of earlier refunds.
    ``refundable``: the sale's ``refundable_of`` when the caller has it already."""
    refundable = refundable or refundable_of(charge_id=charge_id)
    if refundable is None or refundable.captured <= 0:
        return 0
    rows = (
        LedgerEntry.objects.filter(
            transaction__charge_id=charge_id, account=seller_balance_account(seller_id)
        )
        .values("transaction__kind")
        .annotate(total=Sum("amount"))
    )
    by_kind = {row["transaction__kind"]: int(row["total"]) for row in rows}
    K = LedgerTransaction.Kind
    earlier = LedgerTransaction.objects.filter(kind=K.REFUND, charge_id=charge_id).count()
    takes_all = amount >= refundable.remaining

    def back(share: int, left: int) -> int:
        part = min(round_half_up(share * amount, refundable.captured), left)
        return left if takes_all and left - part <= earlier else max(part, 0)

    transferred = by_kind.get(K.TRANSFER, 0)
    reversed_part = back(transferred, transferred + by_kind.get(K.TRANSFER_REVERSAL, 0))
    fee = -by_kind.get(K.APPLICATION_FEE, 0)  # taken from the seller (full transfer)
    fee_part = back(fee, fee - by_kind.get(K.FEE_REFUND, 0))
    return max(reversed_part - fee_part, 0)


def refund_request_create(
    *,
    actor: Any,
    charge_id: str,
    amount: int,
    reason: str,
    client_token: Any,
    note: str = "",
    platform_covers: bool = False,
) -> Any:
    """Refund ``amount`` (minor units) of a paid sale, in full or in part, through Stripe.

    Who: staff for any sale; the seller for their own sales within
    ``MARKETPLACE_REFUND_WINDOW`` of the payment (anyone else: ``PermissionDenied``).
    Refused with a message (``UserFacingError``): an unpaid or unknown sale, zero or a negative
    amount, more than remains refundable, a second refund while one is being sent (the sale is
    locked; the second waits and then sees the first), the same form submitted twice
    (``client_token``). Stripe reverses the seller's transfer and refunds the platform's fee pro
    rata (``reverse_transfer``, ``refund_application_fee``); the idempotency key is the request's.

    A seller's balance never goes negative through a refund (an invariant of the ledger):
    when the seller's share of the refund is more than their balance holds (it has been paid
    out), the seller is refused and told to ask the platform team, and staff are refused unless
    they choose ``platform_covers``: then nothing is reversed or refunded from the seller, and
    the platform pays the refund from its own balance. Only staff may choose it.
    Side effects: a RefundRequest row with Stripe's answer and an audit entry (refused by Stripe
    or not); the ledger records the refund at once (and again, harmlessly, from Stripe's events).
    """
    from django.core.exceptions import PermissionDenied

    from marketplace import stripe_gateway as gw
    from payouts.models import RefundRequest

    if reason not in RefundRequest.Reason.values:
        raise UserFacingError("Choose a reason for the refund.", field="reason")
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise UserFacingError("Enter an amount above zero.", field="amount")
    if platform_covers and not getattr(actor, "is_staff", False):
        raise PermissionDenied("only staff refund from the platform's balance")
    with transaction.atomic():
        sale = (
            LedgerTransaction.objects.select_for_update(of=("self",))
            .filter(kind=LedgerTransaction.Kind.CHARGE, stripe_object_id=charge_id)
            .select_related("seller__user")
            .first()
        )
        is_staff = bool(getattr(actor, "is_staff", False))
        is_owner = sale is not None and sale.seller is not None and sale.seller.user_id == actor.pk
        if not (is_staff or is_owner):
            raise PermissionDenied("not your sale")
        if sale is None:
            raise UserFacingError("This order is not paid (yet): there is nothing to refund.")
        if not is_staff and sale.occurred_at + settings.MARKETPLACE_REFUND_WINDOW < timezone.now():
            days = settings.MARKETPLACE_REFUND_WINDOW.days
            raise UserFacingError(
                f"The {days}-day refund window has passed; ask the platform team to refund."
            )
        existing = RefundRequest.objects.filter(client_token=client_token).first()
        if existing is not None:
            raise UserFacingError("This refund was already submitted.")
        if RefundRequest.objects.filter(
            charge_id=charge_id, status=RefundRequest.Status.PENDING
        ).exists():
            raise UserFacingError(
                "Another refund of this order is being sent to Stripe; reload in a moment."
            )
        refundable = refundable_of(charge_id=charge_id)
        assert refundable is not None
        if amount > refundable.remaining:
            left = Money(refundable.remaining, refundable.currency)
            raise UserFacingError(
                f"At most {left} can still be refunded on this order."
                if refundable.remaining
                else "This order is already fully refunded.",
                field="amount",
            )
        if sale.seller is not None and not platform_covers:
            _refuse_refund_beyond_balance(
                seller=sale.seller,
                charge_id=charge_id,
                amount=amount,
                refundable=refundable,
                is_staff=is_staff,
            )
        request = RefundRequest.objects.create(
            client_token=client_token,
            charge_id=charge_id,
            order_id=sale.order_id,
            seller=sale.seller,
            amount=amount,
            currency=refundable.currency,
            reason=reason,
            note=note[:500],
            requested_by=actor,
            platform_covers=platform_covers,
        )
        try:
            refund = gw.refund_create(
                charge_id=charge_id,
                amount=amount,
                order_id=sale.order_id or 0,
                reason=reason,
                idempotency_key=gw.idempotency_key("refund-request", request.pk),
                take_back_seller_share=not platform_covers,
            )
        except gw.GatewayError as exc:
            request.status = RefundRequest.Status.FAILED
            request.error = exc.message[:500]
        else:
            request.status = RefundRequest.Status.SUCCEEDED
            request.stripe_refund_id = refund.id
        request.save(update_fields=["status", "error", "stripe_refund_id", "updated_at"])
        succeeded = request.status == RefundRequest.Status.SUCCEEDED
        audit_record(
            action=Action.REFUND,
            target=request,
            actor=actor,
            object_repr=(
                f"{Money(amount, refundable.currency)} of {charge_id}"
                + (f" (order #{sale.order_id})" if sale.order_id else "")
            ),
            summary=(
                f"{request.get_reason_display()}"
                + (", from the platform's balance" if platform_covers else "")
                + ("" if succeeded else f"; Stripe refused: {request.error}")
            ),
            before={"charge_id": charge_id, "refundable": refundable.remaining},
            after={
                "charge_id": charge_id,
                "amount": amount,
                "currency": refundable.currency,
                "status": request.status,
                "stripe_refund_id": request.stripe_refund_id,
                "platform_covers": platform_covers,
                "refundable": refundable.remaining - (amount if succeeded else 0),
            },
        )
    if request.status == RefundRequest.Status.FAILED:
        raise UserFacingError(f"Stripe refused the refund: {request.error}")
    # Record it now so the balance moves at once; if Stripe is slow, the events will. When its
    # events came first (and recorded it), there is nothing to read.
    with contextlib.suppress(gw.GatewayError, LedgerError):
        ledger_sync_charge(
            charge_id=charge_id, told={"object": "refund", "id": request.stripe_refund_id}
        )
    return request


def _refuse_refund_beyond_balance(
    *, seller: Seller, charge_id: str, amount: int, refundable: Refundable, is_staff: bool
) -> None:
    """Raise ``UserFacingError`` when the seller's share of this refund is more than the
    seller's ledger balance in the sale's currency holds."""
    share = seller_share_of_refund(
        charge_id=charge_id, seller_id=seller.pk, amount=amount, refundable=refundable
    )
    if share <= 0:
        return
    currency = refundable.currency
    row = SellerBalance.objects.filter(seller=seller).first()
    held = row.ledger_total(currency) if row else 0
    if share <= held:
        return
    share_label, held_label = _money_label(share, currency), _money_label(max(held, 0), currency)
    if is_staff:
        raise UserFacingError(
            f"This refund takes {share_label} back from the seller, whose balance holds "
            f"{held_label} (the rest has been paid out). Refund from the platform's balance "
            "instead, or refund less.",
            field="platform_covers",
        )
    raise UserFacingError(
        f"This refund takes {share_label} of your share back, and your balance holds "
        f"{held_label} (the rest has been paid out to your bank). Ask the platform team to "
        "refund this order, or refund less."
    )


def order_refund_create(
    *,
    actor: Any,
    order_id: int,
    amount: int,
    reason: str,
    client_token: Any,
    note: str = "",
) -> Any:
    """Refund ``amount`` (minor units) of one seller's order of a several-seller purchase.

    The purchase was one charge on the platform and a transfer to each seller, so the refund is
    two Stripe requests, each with an idempotency key from the request: a refund of ``amount``
    of the charge (naming the order in its metadata, nothing reversed by Stripe itself), then a
    reversal of that seller's transfer by their share, pro rata to the order
    (``pro_rata_part``: the series of refunds of the whole order reverses exactly the whole
    transfer); the platform gives back its fee's share by keeping the rest of the refund on
    itself. The other sellers' orders and transfers are untouched.

    Who: staff for any order; the order's seller within ``MARKETPLACE_REFUND_WINDOW`` of the
    payment (anyone else: ``PermissionDenied``). Refused with a message (``UserFacingError``):
    an unpaid order, one whose transfer is not made yet, zero or a negative amount, more than
    remains of the order, a second refund while one is being sent, the same form twice, a share
    above what the seller's balance holds (the balance never goes below zero through a refund;
    the platform team can then refund through the purchase's other means).
    Side effects: a RefundRequest row with Stripe's answer and an audit entry (refused by Stripe
    or not); the ledger records the refund and the reversal at once (and again, harmlessly, from Stripe's events).
    """
    from django.core.exceptions import PermissionDenied

    from buyers.models import Order, Purchase
    from marketplace import stripe_gateway as gw
    from payouts.models import RefundRequest
    from payouts.services.ledger import pro_rata_part

    if reason not in RefundRequest.Reason.values:
        raise UserFacingError("Choose a reason for the refund.", field="reason")
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise UserFacingError("Enter an amount above zero.", field="amount")
    with transaction.atomic():
        order = (
            Order.objects.select_for_update(of=("self",))
            .select_related("seller__user", "purchase")
            .filter(pk=order_id)
            .first()
        )
        is_staff = bool(getattr(actor, "is_staff", False))
        if not (is_staff or (order is not None and order.seller.user_id == actor.pk)):
            raise PermissionDenied("not your order")
        assert order is not None
        if order.purchase.charge_type != Purchase.ChargeType.SEPARATE:
            raise UserFacingError("This order is refunded from its sale's refund page.")
        if order.status not in (Order.Status.PAID, Order.Status.FULFILLED, Order.Status.REFUNDED):
            raise UserFacingError("This order is not paid (yet): there is nothing to refund.")
        if order.transfer_status != Order.TransferStatus.PAID:
            raise UserFacingError(
                "The seller's share of this order is still being transferred; refund in a "
                "few minutes."
            )
        paid_at = order.paid_at or order.created_at
        if not is_staff and paid_at + settings.MARKETPLACE_REFUND_WINDOW < timezone.now():
            days = settings.MARKETPLACE_REFUND_WINDOW.days
            raise UserFacingError(
                f"The {days}-day refund window has passed; ask the platform team to refund."
            )
        if RefundRequest.objects.filter(client_token=client_token).exists():
            raise UserFacingError("This refund was already submitted.")
        requests = RefundRequest.objects.filter(order_id=order.pk, charge_id=order.charge_id)
        if requests.filter(status=RefundRequest.Status.PENDING).exists():
            raise UserFacingError(
                "Another refund of this order is being sent to Stripe; reload in a moment."
            )
        sent = requests.filter(status=RefundRequest.Status.SUCCEEDED).aggregate(t=Sum("amount"))
        refunded = max(order.refunded_amount, int(sent["t"] or 0))
        remaining = order.amount - refunded
        if amount > remaining:
            left = Money(remaining, order.currency)
            raise UserFacingError(
                f"At most {left} can still be refunded on this order."
                if remaining
                else "This order is already fully refunded.",
                field="amount",
            )
        share = pro_rata_part(
            share=order.transfer_amount,
            refunded_before=refunded,
            refunded_now=amount,
            captured=order.amount,
        )
        row = SellerBalance.objects.filter(seller=order.seller).first()
        held = row.ledger_total(order.currency) if row else 0
        held -= reversals_owed(seller_id=order.seller_id, currency=order.currency)
        if share > held:
            share_label = _money_label(share, order.currency)
            held_label = _money_label(max(held, 0), order.currency)
            raise UserFacingError(
                f"This refund takes {share_label} of the seller's share back, and their balance "
                f"holds {held_label} (the rest has been paid out). Refund less, or ask the "
                "platform team."
            )
        request = RefundRequest.objects.create(
            client_token=client_token,
            charge_id=order.charge_id,
            order_id=order.pk,
            seller=order.seller,
            amount=amount,
            currency=order.currency,
            reason=reason,
            note=note[:500],
            requested_by=actor,
        )
        try:
            refund = gw.refund_create(
                charge_id=order.charge_id,
                amount=amount,
                order_id=order.pk,
                reason=reason,
                idempotency_key=gw.idempotency_key("refund-request", request.pk),
                take_back_seller_share=False,
            )
        except gw.GatewayError as exc:
            request.status = RefundRequest.Status.FAILED
            request.error = exc.message[:500]
        else:
            request.status = RefundRequest.Status.SUCCEEDED
            request.stripe_refund_id = refund.id
            if share > 0:
                # Recorded with the refund, made just after it commits: if the reversal fails
                # (or this process dies first), the buyer is refunded all the same and the job
                # ``refund_reversals_retry_due`` takes the seller's share back later, once.
                request.reversal_amount = share
                request.reversal_status = RefundRequest.ReversalStatus.PENDING
        request.save(
            update_fields=[
                "status",
                "error",
                "stripe_refund_id",
                "reversal_amount",
                "reversal_status",
                "updated_at",
            ]
        )
        succeeded = request.status == RefundRequest.Status.SUCCEEDED
        audit_record(
            action=Action.REFUND,
            target=request,
            actor=actor,
            object_repr=f"{Money(amount, order.currency)} of order #{order.pk} ({order.charge_id})",
            summary=(
                f"{request.get_reason_display()}, one seller's order"
                + ("" if succeeded else f"; Stripe refused: {request.error}")
            ),
            before={"order_id": order.pk, "refundable": remaining},
            after={
                "order_id": order.pk,
                "charge_id": order.charge_id,
                "amount": amount,
                "currency": order.currency,
                "status": request.status,
                "stripe_refund_id": request.stripe_refund_id,
                "reversal_amount": request.reversal_amount,
                "refundable": remaining - (amount if succeeded else 0),
            },
        )
    if request.status == RefundRequest.Status.FAILED:
        raise UserFacingError(f"Stripe refused the refund: {request.error}")
    if request.reversal_status == RefundRequest.ReversalStatus.PENDING:
        request = refund_reversal_make(refund_request_id=request.pk)
    with contextlib.suppress(gw.GatewayError, LedgerError):
        ledger_sync_charge(
            charge_id=order.charge_id, told={"object": "refund", "id": request.stripe_refund_id}
        )
    return request


REVERSAL_BACKOFF = (60, 300, 900, 3600, 4 * 3600, 12 * 3600)  # seconds after failure n


def reversal_backoff(attempts: int) -> timedelta:
    """How long to wait before trying a failed transfer reversal again after ``attempts``."""
    return timedelta(seconds=REVERSAL_BACKOFF[min(max(attempts, 1), len(REVERSAL_BACKOFF)) - 1])


def refund_reversal_make(*, refund_request_id: int, now: datetime | None = None) -> Any:
    """Take back the seller's share of a refund of one seller's order (a several-seller
    purchase): one reversal of that seller's transfer by ``reversal_amount``. Idempotent.

    The request row stays locked while Stripe is asked, so two workers never both send it. The
    first attempt's idempotency key is the request's; before any retry, the transfer's
    reversals are listed from Stripe and one naming this request (metadata
    ``refund_request_id``) is recorded instead of making another, so a reversal whose answer
    was lost is never made twice. A failure (Stripe unreachable or refusing, the seller's
    balance...) leaves ``reversal_status`` = failed with the reason, the attempt count and the
    next attempt's time (``reversal_backoff``); staff see it on the transfer review page.
    Requests with nothing to reverse are returned unchanged.
    """
    from buyers.models import Order
    from marketplace import stripe_gateway as gw
    from payouts.models import RefundRequest

    R = RefundRequest.ReversalStatus
    with transaction.atomic():
        request = RefundRequest.objects.select_for_update().get(pk=refund_request_id)
        if request.reversal_status not in (R.PENDING, R.FAILED) or request.reversal_amount <= 0:
            return request
        order = Order.objects.filter(pk=request.order_id or 0).first()
        transfer_id = order.transfer_id if order is not None else ""
        try:
            if not transfer_id:
                raise gw.GatewayError("the order has no transfer to reverse")
            found = None
            if request.reversal_attempts:
                found = next(
                    (
                        r
                        for r in gw.transfer_reversals_list(transfer_id=transfer_id)
                        if r.refund_request_id == str(request.pk)
                    ),
                    None,
                )
            key: list[object] = ["refund-request", request.pk, "reversal"]
            if request.reversal_attempts:
                key.append(request.reversal_attempts)
            reversal = found or gw.transfer_reversal_create(
                transfer_id=transfer_id,
                amount=request.reversal_amount,
                reason=f"refund {request.stripe_refund_id} of order {request.order_id}",
                idempotency_key=gw.idempotency_key(*key),
                refund_request_id=request.pk,
            )
        except gw.GatewayError as exc:
            request.reversal_attempts += 1
            request.reversal_status = R.FAILED
            request.reversal_error = str(exc.message)[:255]
            request.reversal_next_attempt_at = (now or timezone.now()) + reversal_backoff(
                request.reversal_attempts
            )
        else:
            request.reversal_status = R.DONE
            request.reversal_id = reversal.id
            request.reversal_error = ""
            request.reversal_next_attempt_at = None
        request.save(
            update_fields=[
                "reversal_attempts",
                "reversal_status",
                "reversal_error",
                "reversal_next_attempt_at",
                "reversal_id",
                "updated_at",
            ]
        )
    if request.reversal_status == R.DONE:
        with contextlib.suppress(gw.GatewayError, LedgerError):
            ledger_sync_charge(charge_id=request.charge_id)
    return request


def refund_reversals_retry_due(*, now: datetime | None = None, limit: int = 100) -> int:
    """Try again the transfer reversals of refunds that failed, once their backoff has passed,
    and any left pending by a process that died after the refund (periodic). Returns how many
    were made now."""
    from payouts.models import RefundRequest

    R = RefundRequest.ReversalStatus
    now = now or timezone.now()
    due = (
        RefundRequest.objects.filter(reversal_status__in=[R.PENDING, R.FAILED])
        .filter(
            models.Q(reversal_next_attempt_at__isnull=True)
            | models.Q(reversal_next_attempt_at__lte=now)
        )
        .order_by("reversal_next_attempt_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )
    made = 0
    for request_id in list(due):
        request = refund_reversal_make(refund_request_id=request_id, now=now)
        made += request.reversal_status == R.DONE
    return made


def reversals_owed(*, seller_id: int, currency: str) -> int:
    """What refunds still have to take back from the seller (reversals pending or failed),
    minor units: not in the ledger balance yet, so held back from what a refund may take."""
    from payouts.models import RefundRequest

    R = RefundRequest.ReversalStatus
    return int(
        RefundRequest.objects.filter(
            seller_id=seller_id,
            currency=currency,
            reversal_status__in=[R.PENDING, R.FAILED],
        ).aggregate(t=Sum("reversal_amount"))["t"]
        or 0
    )


@dataclass(frozen=True)
class OrderRefundable:
    """What one seller's order can still give back to the buyer (minor units of ``currency``)."""

    amount: int
    refunded: int
    currency: str

    @property
    def remaining(self) -> int:
        return max(self.amount - self.refunded, 0)


def order_refundable(*, order: Any) -> OrderRefundable:
    """What remains refundable of ``order``: its amount less what was refunded, as far as we
    know (the order's refunds from Stripe's events, or the refunds Stripe accepted whose events
    have not arrived yet, whichever is more). A destination charge is also bounded by what
    remains of the charge."""
    from buyers.models import Purchase
    from payouts.models import RefundRequest

    sent = RefundRequest.objects.filter(
        order_id=order.pk, charge_id=order.charge_id, status=RefundRequest.Status.SUCCEEDED
    ).aggregate(t=Sum("amount"))["t"]
    refunded = max(order.refunded_amount, int(sent or 0))
    if order.charge_id and order.purchase.charge_type != Purchase.ChargeType.SEPARATE:
        charge = refundable_of(charge_id=order.charge_id)
        if charge is not None:
            refunded = max(refunded, order.amount - charge.remaining)
    return OrderRefundable(
        amount=order.amount, refunded=min(refunded, order.amount), currency=order.currency
    )


def order_refund_amount(*, order: Any, amount: int | None, lines: dict[int, int] | None) -> int:
    """The amount (minor units) of a refund of ``order`` given either as an ``amount`` or as
    ``lines`` (order line id -> units to refund, each at the price the buyer paid). Refused with
    a message (``UserFacingError``): neither or both, a line not of this order, a quantity below
    zero or above what the line holds, nothing chosen."""
    if (amount is None) == (lines is None):
        raise UserFacingError("Refund either an amount or some of the order's items.")
    if amount is not None:
        if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
            raise UserFacingError("Enter an amount above zero.", field="amount")
        return amount
    assert lines is not None
    by_id = {line.pk: line for line in order.lines.all()}
    total = 0
    for line_id, quantity in lines.items():
        line = by_id.get(line_id)
        if line is None:
            raise UserFacingError("That item is not part of this order.")
        if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 0:
            raise UserFacingError(f"Choose 0 to {line.quantity} of {line.title}.")
        if quantity > line.quantity:
            raise UserFacingError(
                f"The buyer bought {line.quantity} of {line.title}: refund at most that many."
            )
        total += line.unit_amount * quantity
    if total <= 0:
        raise UserFacingError("Choose at least one item to refund.")
    return total


def order_refund_share(*, order: Any, amount: int) -> int:
    """What a refund of ``amount`` of ``order`` takes back from the seller's balance (minor
    units): the seller's part of the refund, as the refund itself computes it."""
    from buyers.models import Purchase
    from payouts.services.ledger import pro_rata_part

    refundable = order_refundable(order=order)
    if amount <= 0 or amount > refundable.remaining:
        return 0
    if order.purchase.charge_type == Purchase.ChargeType.SEPARATE:
        return pro_rata_part(
            share=order.transfer_amount,
            refunded_before=refundable.refunded,
            refunded_now=amount,
            captured=order.amount,
        )
    return seller_share_of_refund(
        charge_id=order.charge_id, seller_id=order.seller_id, amount=amount
    )


def sale_refund_create(
    *,
    actor: Any,
    order_id: int,
    reason: str,
    client_token: Any,
    amount: int | None = None,
    lines: dict[int, int] | None = None,
    note: str = "",
) -> Any:
    """The seller refunds (part of) their own order from its sale page, by an ``amount`` or by
    ``lines`` (order line id -> units; see ``order_refund_amount``), whatever the purchase's
    shape: an order paid alone (a destination charge) is refunded through
    ``refund_request_create`` (Stripe reverses the transfer and refunds the fee pro rata); one
    seller's order of a several-seller purchase through ``order_refund_create`` (a refund of that
    amount of the charge, and a reversal of that seller's transfer by their share).

    Who: the order's seller (anyone else, staff included: ``PermissionDenied``; staff refund
    from the refunds pages). Refused with a message (``UserFacingError``): everything the two
    services refuse, and more than remains of this order ("At most … can still be refunded").
    Returns the RefundRequest.
    """
    from django.core.exceptions import PermissionDenied

    from buyers.models import Order, Purchase

    order = Order.objects.select_related("seller", "purchase").filter(pk=order_id).first()
    if order is None or order.seller.user_id != getattr(actor, "pk", None):
        raise PermissionDenied("not your order")
    total = order_refund_amount(order=order, amount=amount, lines=lines)
    if order.status not in (Order.Status.PAID, Order.Status.FULFILLED) or not order.charge_id:
        if order.status == Order.Status.REFUNDED:
            raise UserFacingError("This order is already fully refunded.")
        raise UserFacingError("This order is not paid (yet): there is nothing to refund.")
    refundable = order_refundable(order=order)
    if total > refundable.remaining:
        raise UserFacingError(
            f"At most {Money(refundable.remaining, refundable.currency)} can still be refunded "
            "on this order."
            if refundable.remaining
            else "This order is already fully refunded.",
            field="amount",
        )
    if order.purchase.charge_type == Purchase.ChargeType.SEPARATE:
        return order_refund_create(
            actor=actor,
            order_id=order.pk,
            amount=total,
            reason=reason,
            client_token=client_token,
            note=note,
        )
    return refund_request_create(
        actor=actor,
        charge_id=order.charge_id,
        amount=total,
        reason=reason,
        client_token=client_token,
        note=note,
    )
