"""Charge sync: bring the ledger in line with everything Stripe did with one charge: a
destination charge (the charge, its transfer, application fee, refunds, reversals and dispute
funds) or a several-seller charge (the charge, the transfers of its ``transfer_group``, their
reversals, the fee each order leaves on the platform, refunds and dispute funds).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.db.models import Q
from django.utils import timezone

from payouts.models import (
    LedgerTransaction,
)
from payouts.services._common import _id, _plain, _ts
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

logger = logging.getLogger(__name__)


def _order_id_of(charge: Mapping[str, Any]) -> int | None:
    raw = (charge.get("metadata") or {}).get("order_id")
    if raw and str(raw).isdigit():
        return int(raw)
    return order_id_for_charge(
        charge_id=str(charge["id"]), payment_intent_id=_id(charge.get("payment_intent"))
    )


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
        re_ = _plain(refund)
        raw = str((re_.get("metadata") or {}).get("order_id") or "")
        if re_.get("status") != "succeeded" or not raw.isdigit() or int(raw) == 0:
            continue
        total, first_id = per_order.get(int(raw), (0, ""))
        per_order[int(raw)] = (total + int(re_["amount"]), first_id or str(re_["id"]))
    for order_id, (total, refund_id) in sorted(per_order.items()):
        _sync_order_refund(
            order_id=order_id, refund_id=refund_id, refunded_total=total, charge_id=charge_id
        )


def _record_separate_transfers(*, charge: Mapping[str, Any], currency: str) -> list[str]:
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
    charge_id = str(charge["id"])
    recorded: list[str] = []
    for item in gw.transfers_list(transfer_group=str(charge["transfer_group"])):
        transfer = _plain(item)
        if _id(transfer.get("source_transaction")) != charge_id:
            continue
        destination = _id(transfer.get("destination"))
        seller = Seller.objects.filter(stripe_account_id=destination).first()
        if seller is None:
            raise LedgerError(
                f"transfer {transfer['id']} pays {destination}, not one of our sellers"
            )
        raw = str((transfer.get("metadata") or {}).get("order_id") or "")
        order = (
            Order.objects.filter(pk=int(raw), charge_id=charge_id).first()
            if raw.isdigit()
            else None
        )
        order_id = order.pk if order else None
        amount = int(transfer["amount"])

        def record(
            kind: str,
            object_id: str,
            postings: list[Posting],
            at: Any,
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
                description=f"{kind} of charge {charge_id} ({charge['transfer_group']})",
            )
            if created:
                recorded.append(f"{kind}:{object_id}")

        record(
            K.TRANSFER,
            str(transfer["id"]),
            movement_postings(
                kind=K.TRANSFER, amount=amount, currency=currency, seller_id=seller.pk
            ),
            transfer.get("created"),
        )
        if order is not None and order.amount > amount:
            kept = order.amount - amount
            record(
                K.SEPARATE_FEE,
                str(transfer["id"]),
                [
                    Posting(PLATFORM_BALANCE, -kept, currency),
                    Posting(PLATFORM_FEES, kept, currency),
                ],
                transfer.get("created"),
            )
        if int(transfer.get("amount_reversed") or 0):
            for reversal in gw.transfer_reversals_list(transfer_id=str(transfer["id"])):
                trr = _plain(reversal)
                record(
                    K.TRANSFER_REVERSAL,
                    str(trr["id"]),
                    movement_postings(
                        kind=K.TRANSFER_REVERSAL,
                        amount=int(trr["amount"]),
                        currency=currency,
                        seller_id=seller.pk,
                    ),
                    trr.get("created"),
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
    charge = _plain(gw.charge_retrieve(charge_id=charge_id))
    recorded: list[str] = []
    if charge.get("status") != "succeeded" and not charge.get("paid"):
        return ChargeSyncResult(charge_id, recorded)
    currency = str(charge["currency"]).lower()
    amount = int(charge["amount"])
    order_id = _order_id_of(charge)
    transfer_id = _id(charge.get("transfer"))
    destination = _id((charge.get("transfer_data") or {}).get("destination")) or _id(
        charge.get("destination")
    )
    transfer = _plain(gw.transfer_retrieve(transfer_id=transfer_id)) if transfer_id else {}
    destination = destination or _id(transfer.get("destination"))
    seller = Seller.objects.filter(stripe_account_id=destination).first() if destination else None
    if destination and seller is None:
        raise LedgerError(f"charge {charge_id} pays account {destination}, not one of our sellers")
    when = _ts(charge.get("created")) or timezone.now()
    # Separate charges and transfers (several sellers): the charge stays on the platform and
    # names its purchase by transfer_group; no one order is "the" order of the charge.
    separate = not transfer_id and not destination and bool(charge.get("transfer_group"))
    if separate:
        order_id = None

    def record(kind: str, object_id: str, postings: list[Posting], at: Any = None) -> None:
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
    processing = charge.get("balance_transaction")
    if (
        isinstance(processing, dict)
        and int(processing.get("fee") or 0) > 0
        and str(processing.get("currency") or "").lower() == currency
    ):
        fee_paid = int(processing["fee"])
        record(
            K.STRIPE_FEE,
            str(processing["id"]),
            [
                Posting(PLATFORM_BALANCE, -fee_paid, currency),
                Posting(STRIPE_FEES, fee_paid, currency),
            ],
            processing.get("created"),
        )
    transferred = 0
    if transfer and seller is not None:
        transferred = int(transfer["amount"])
        record(
            K.TRANSFER,
            transfer_id,
            movement_postings(
                kind=K.TRANSFER, amount=transferred, currency=currency, seller_id=sid
            ),
            transfer.get("created"),
        )
    fee_id = _id(charge.get("application_fee"))
    fee_from_seller = transferred == amount  # Stripe: full transfer, then the fee comes back
    if fee_id:
        fee = _plain(gw.application_fee_retrieve(fee_id=fee_id))
        fee_amount = int(fee["amount"])
        if fee_from_seller and seller is not None:
            postings = movement_postings(
                kind=K.APPLICATION_FEE, amount=fee_amount, currency=currency, seller_id=sid
            )
        else:  # the transfer was already net of the fee: the fee never left the platform
            postings = [
                Posting(PLATFORM_BALANCE, -fee_amount, currency),
                Posting(PLATFORM_FEES, fee_amount, currency),
            ]
        record(K.APPLICATION_FEE, fee_id, postings, fee.get("created"))
        if int(fee.get("amount_refunded") or 0):
            for fee_refund in gw.application_fee_refunds_list(fee_id=fee_id):
                fr = _plain(fee_refund)
                back = int(fr["amount"])
                if fee_from_seller and seller is not None:
                    postings = movement_postings(
                        kind=K.FEE_REFUND, amount=back, currency=currency, seller_id=sid
                    )
                else:
                    postings = [
                        Posting(PLATFORM_FEES, -back, currency),
                        Posting(PLATFORM_BALANCE, back, currency),
                    ]
                record(K.FEE_REFUND, str(fr["id"]), postings, fr.get("created"))
    if int(charge.get("amount_refunded") or 0):
        last_refund_id = ""
        for refund in gw.refunds_list(charge_id=charge_id):
            re_ = _plain(refund)
            if re_.get("status") != "succeeded":
                continue
            last_refund_id = last_refund_id or str(re_["id"])
            record(
                K.REFUND,
                str(re_["id"]),
                movement_postings(kind=K.REFUND, amount=int(re_["amount"]), currency=currency),
                re_.get("created"),
            )
        if separate:
            _sync_separate_refunds(charge_id=charge_id)
        elif order_id is not None:
            _sync_order_refund(
                order_id=order_id,
                refund_id=last_refund_id,
                charge_id=str(charge["id"]),
                refunded_total=int(charge["amount_refunded"]),
            )
    if transfer and seller is not None and int(transfer.get("amount_reversed") or 0):
        for reversal in gw.transfer_reversals_list(transfer_id=transfer_id):
            trr = _plain(reversal)
            record(
                K.TRANSFER_REVERSAL,
                str(trr["id"]),
                movement_postings(
                    kind=K.TRANSFER_REVERSAL,
                    amount=int(trr["amount"]),
                    currency=currency,
                    seller_id=sid,
                ),
                trr.get("created"),
            )
    if separate:
        recorded += _record_separate_transfers(charge=charge, currency=currency)
    if charge.get("disputed"):
        for dispute in gw.disputes_list(charge_id=charge_id):
            recorded += _record_dispute_funds(
                dispute=_plain(dispute), seller=seller, order_id=order_id, charge_id=charge_id
            )
    return ChargeSyncResult(charge_id, recorded)


def _record_dispute_funds(
    *, dispute: Mapping[str, Any], seller: Seller | None, order_id: int | None, charge_id: str
) -> list[str]:
    """Dispute withdrawals and reinstatements from the dispute's balance transactions."""
    K = LedgerTransaction.Kind
    recorded = []
    dispute_id = str(dispute["id"])
    for bt in dispute.get("balance_transactions") or []:
        bt = _plain(bt)
        currency = str(bt.get("currency") or dispute["currency"]).lower()
        moved, fee = int(bt.get("amount") or 0), int(bt.get("fee") or 0)
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
            occurred_at=_ts(bt.get("created")) or timezone.now(),
            description=f"{kind} {dispute_id}",
        )
        if created:
            recorded.append(f"{kind}:{dispute_id}")
    return recorded
