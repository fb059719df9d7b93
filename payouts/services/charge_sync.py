"""Charge sync: bring the ledger in line with everything Stripe did with one charge: a
destination charge (the charge, its transfer, application fee, refunds, reversals and dispute
funds) or a several-seller charge (the charge, the transfers of its ``transfer_group``, their
reversals, the fee each order leaves on the platform, refunds and dispute funds).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db.models import Q
from django.utils import timezone

from payouts.models import (
    LedgerTransaction,
)
from payouts.services._common import _ts
from payouts.services.ledger import (
    BUYER_DISPUTES,
    PLATFORM_BALANCE,
    PLATFORM_FEES,
    STRIPE_FEES,
    LedgerError,
    Posting,
    dispute_withdrawal_postings,
    ledger_record,
    movement_postings,
)
from sellers.models import Seller

if TYPE_CHECKING:
    from marketplace.stripe_gateway import Charge, Dispute

logger = logging.getLogger(__name__)


def _order_id_of(charge: Charge) -> int | None:
    if charge.order_id.isdigit():
        return int(charge.order_id)
    return order_id_for_charge(charge_id=charge.id, payment_intent_id=charge.payment_intent_id)


def order_id_for_charge(*, charge_id: str, payment_intent_id: str) -> int | None:
    """The order paid by this charge, from buyers' Order (charge or payment intent id)."""
    from buyers.models import Order

    lookup = Q(charge_id=charge_id)
    if payment_intent_id:
        lookup |= Q(payment_intent_id=payment_intent_id)
    found = Order.objects.filter(lookup).values_list("id", flat=True).first()
    return int(found) if found is not None else None


def _sync_order_refund(
    *, order_id: int, refund_id: str, refunded_total: int, charge_id: str
) -> None:
    """Tell buyers' order how much of its charge is refunded (it moves to refunded when all is)."""
    from buyers import services as buyer_services
    from buyers.models import Order

    try:
        buyer_services.order_record_refund(
            order_id=order_id,
            refund_id=refund_id,
            refunded_total=refunded_total,
            charge_id=charge_id,
        )
    except Order.DoesNotExist:
        logger.warning("refund of unknown order %s", order_id)
    except buyer_services.InvalidTransition as exc:
        logger.warning("order %s: refund not recorded on the order: %s", order_id, exc)


def _sync_separate_refunds(*, charge_id: str) -> None:
    """Each order of a several-seller charge learns its own refunded total: the succeeded
    refunds of the charge naming it in their metadata (our refunds always do)."""
    from marketplace import stripe_gateway as gw

    per_order: dict[int, tuple[int, str]] = {}
    for refund in gw.refunds_list(charge_id=charge_id):
        raw = refund.order_id
        if refund.status != "succeeded" or not raw.isdigit() or int(raw) == 0:
            continue
        total, first_id = per_order.get(int(raw), (0, ""))
        per_order[int(raw)] = (total + refund.amount, first_id or refund.id)
    for order_id, (total, refund_id) in sorted(per_order.items()):
        _sync_order_refund(
            order_id=order_id, refund_id=refund_id, refunded_total=total, charge_id=charge_id
        )


def _record_separate_transfers(*, charge: Charge, currency: str) -> list[str]:
    """The transfers of a several-seller charge (``transfer_group`` = its purchase, each with
    ``source_transaction`` = the charge), their reversals, and the platform's fee each order
    leaves on the platform (the order's amount minus its transfer: Stripe has no fee object for
    separate charges, so the ledger keys it on the transfer, kind ``separate_fee``).

    A transfer is a ``transfer`` (platform -> seller) and a reversal a ``transfer_reversal``
    (seller -> platform) as for destination charges: the same money movement and the same
    Stripe balance transaction types, so reconciliation matches them unchanged."""
    from buyers.models import Order
    from marketplace import stripe_gateway as gw

    K = LedgerTransaction.Kind
    charge_id = charge.id
    recorded: list[str] = []
    for transfer in gw.transfers_list(transfer_group=charge.transfer_group):
        if transfer.source_transaction_id != charge_id:
            continue
        destination = transfer.destination_id
        seller = Seller.objects.filter(stripe_account_id=destination).first()
        if seller is None:
            raise LedgerError(f"transfer {transfer.id} pays {destination}, not one of our sellers")
        raw = transfer.order_id
        order = (
            Order.objects.filter(pk=int(raw), charge_id=charge_id).first()
            if raw.isdigit()
            else None
        )
        order_id = order.pk if order else None
        amount = transfer.amount

        def record(
            kind: str,
            object_id: str,
            postings: list[Posting],
            at: int | None,
            seller: Seller = seller,
            order_id: int | None = order_id,
        ) -> None:
            _, created = ledger_record(
                kind=kind,
                stripe_object_id=object_id,
                postings=postings,
                seller=seller,
                order_id=order_id,
                charge_id=charge_id,
                occurred_at=_ts(at) or timezone.now(),
                description=f"{kind} of charge {charge_id} ({charge.transfer_group})",
            )
            if created:
                recorded.append(f"{kind}:{object_id}")

        record(
            K.TRANSFER,
            transfer.id,
            movement_postings(
                kind=K.TRANSFER, amount=amount, currency=currency, seller_id=seller.pk
            ),
            transfer.created,
        )
        if order is not None and order.amount > amount:
            kept = order.amount - amount
            record(
                K.SEPARATE_FEE,
                transfer.id,
                [
                    Posting(PLATFORM_BALANCE, -kept, currency),
                    Posting(PLATFORM_FEES, kept, currency),
                ],
                transfer.created,
            )
        if transfer.amount_reversed:
            for reversal in gw.transfer_reversals_list(transfer_id=transfer.id):
                record(
                    K.TRANSFER_REVERSAL,
                    reversal.id,
                    movement_postings(
                        kind=K.TRANSFER_REVERSAL,
                        amount=reversal.amount,
                        currency=currency,
                        seller_id=seller.pk,
                    ),
                    reversal.created,
                )
    return recorded


@dataclass
class ChargeSyncResult:
    charge_id: str
    recorded: list[str]


def ledger_sync_charge(*, charge_id: str) -> ChargeSyncResult:
    """Bring the ledger in line with everything Stripe did with one destination charge.

    Re-reads from Stripe (never trusting a possibly stale event payload) the charge (with its
    balance transaction, for Stripe's processing fee), its transfer,
    its application fee and the fee's refunds, its refunds, the transfer's reversals and its
    disputes, and records every movement not yet in the ledger (``ledger_record`` is idempotent
    on the Stripe object, so running this again, or for duplicated or shuffled events, records
    nothing new). Only succeeded movements are recorded: a pending refund waits for its
    ``refund.updated``. Raises ``GatewayError`` when Stripe cannot be reached (the event is
    retried). Returns what was newly recorded.
    """
    from marketplace import stripe_gateway as gw

    K = LedgerTransaction.Kind
    charge = gw.charge_retrieve(charge_id=charge_id)
    recorded: list[str] = []
    if charge.status != "succeeded" and not charge.paid:
        return ChargeSyncResult(charge_id, recorded)
    if not charge.captured:
        # Only authorised (an order awaiting its seller): no money moved yet; charge.captured
        # brings it back here, and a released authorisation never enters the ledger.
        return ChargeSyncResult(charge_id, recorded)
    currency = charge.currency
    amount = charge.money_taken
    order_id = _order_id_of(charge)
    transfer_id = charge.transfer_id
    transfer = gw.transfer_retrieve(transfer_id=transfer_id) if transfer_id else None
    destination = charge.destination_id or (transfer.destination_id if transfer else "")
    seller = Seller.objects.filter(stripe_account_id=destination).first() if destination else None
    if destination and seller is None:
        raise LedgerError(f"charge {charge_id} pays account {destination}, not one of our sellers")
    when = _ts(charge.created) or timezone.now()
    # Separate charges and transfers (several sellers): the charge stays on the platform and
    # names its purchase by transfer_group; no one order is "the" order of the charge.
    separate = not transfer_id and not destination and bool(charge.transfer_group)
    if separate:
        order_id = None

    def record(kind: str, object_id: str, postings: list[Posting], at: int | None = None) -> None:
        _, created = ledger_record(
            kind=kind,
            stripe_object_id=object_id,
            postings=postings,
            seller=seller,
            order_id=order_id,
            charge_id=charge_id,
            occurred_at=_ts(at) or when,
            description=f"{kind} of charge {charge_id}",
        )
        if created:
            recorded.append(f"{kind}:{object_id}")

    sid = seller.pk if seller else None
    record(K.CHARGE, charge_id, movement_postings(kind=K.CHARGE, amount=amount, currency=currency))
    # Stripe's processing fee, paid by the platform (destination charges). Only when Stripe
    # settled the charge in its own currency: a converted fee is in another currency than the
    # order, and stays with reconciliation's "converted, not compared".
    processing = charge.processing_fee
    if processing is not None and processing.fee > 0 and processing.currency == currency:
        fee_paid = processing.fee
        record(
            K.STRIPE_FEE,
            processing.id,
            [
                Posting(PLATFORM_BALANCE, -fee_paid, currency),
                Posting(STRIPE_FEES, fee_paid, currency),
            ],
            processing.created,
        )
    transferred = 0
    if transfer is not None and seller is not None:
        transferred = transfer.amount
        record(
            K.TRANSFER,
            transfer_id,
            movement_postings(
                kind=K.TRANSFER, amount=transferred, currency=currency, seller_id=sid
            ),
            transfer.created,
        )
    fee_id = charge.application_fee_id
    fee_from_seller = transferred == amount  # Stripe: full transfer, then the fee comes back
    if fee_id:
        fee = gw.application_fee_retrieve(fee_id=fee_id)
        fee_amount = fee.amount
        if fee_from_seller and seller is not None:
            postings = movement_postings(
                kind=K.APPLICATION_FEE, amount=fee_amount, currency=currency, seller_id=sid
            )
        else:  # the transfer was already net of the fee: the fee never left the platform
            postings = [
                Posting(PLATFORM_BALANCE, -fee_amount, currency),
                Posting(PLATFORM_FEES, fee_amount, currency),
            ]
        record(K.APPLICATION_FEE, fee_id, postings, fee.created)
        if fee.amount_refunded:
            for fr in gw.application_fee_refunds_list(fee_id=fee_id):
                back = fr.amount
                if fee_from_seller and seller is not None:
                    postings = movement_postings(
                        kind=K.FEE_REFUND, amount=back, currency=currency, seller_id=sid
                    )
                else:
                    postings = [
                        Posting(PLATFORM_FEES, -back, currency),
                        Posting(PLATFORM_BALANCE, back, currency),
                    ]
                record(K.FEE_REFUND, fr.id, postings, fr.created)
    if charge.amount_refunded:
        last_refund_id = ""
        for refund in gw.refunds_list(charge_id=charge_id):
            if refund.status != "succeeded":
                continue
            last_refund_id = last_refund_id or refund.id
            record(
                K.REFUND,
                refund.id,
                movement_postings(kind=K.REFUND, amount=refund.amount, currency=currency),
                refund.created,
            )
        if separate:
            _sync_separate_refunds(charge_id=charge_id)
        elif order_id is not None:
            _sync_order_refund(
                order_id=order_id,
                refund_id=last_refund_id,
                charge_id=charge.id,
                refunded_total=charge.amount_refunded,
            )
    if transfer is not None and seller is not None and transfer.amount_reversed:
        for reversal in gw.transfer_reversals_list(transfer_id=transfer_id):
            record(
                K.TRANSFER_REVERSAL,
                reversal.id,
                movement_postings(
                    kind=K.TRANSFER_REVERSAL,
                    amount=reversal.amount,
                    currency=currency,
                    seller_id=sid,
                ),
                reversal.created,
            )
    if separate:
        recorded += _record_separate_transfers(charge=charge, currency=currency)
    if charge.disputed:
        for dispute in gw.disputes_list(charge_id=charge_id):
            recorded += _record_dispute_funds(
                dispute=dispute, seller=seller, order_id=order_id, charge_id=charge_id
            )
    return ChargeSyncResult(charge_id, recorded)


def _record_dispute_funds(
    *, dispute: Dispute, seller: Seller | None, order_id: int | None, charge_id: str
) -> list[str]:
    """Dispute withdrawals and reinstatements from the dispute's balance transactions."""
    K = LedgerTransaction.Kind
    recorded = []
    dispute_id = dispute.id
    for bt in dispute.funds:
        currency = bt.currency
        moved, fee = bt.amount, bt.fee
        if moved < 0:
            kind = K.DISPUTE_FUNDS_WITHDRAWN
            postings = dispute_withdrawal_postings(
                amount=-moved, dispute_fee=fee, currency=currency
            )
        elif moved > 0:
            kind = K.DISPUTE_FUNDS_REINSTATED
            postings = [
                Posting(BUYER_DISPUTES, -moved, currency),
                Posting(STRIPE_FEES, fee, currency),
                Posting(PLATFORM_BALANCE, moved - fee, currency),
            ]
        else:
            continue
        _, created = ledger_record(
            kind=kind,
            stripe_object_id=dispute_id,
            postings=postings,
            seller=seller,
            order_id=order_id,
            charge_id=charge_id,
            occurred_at=_ts(bt.created) or timezone.now(),
            description=f"{kind} {dispute_id}",
        )
        if created:
            recorded.append(f"{kind}:{dispute_id}")
    return recorded
