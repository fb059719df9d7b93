"""Charge sync: bring the ledger in line with everything Stripe did with one charge: a
destination charge (the charge, its transfer, application fee, refunds, reversals and dispute
funds) or a several-seller charge (the charge, the transfers of its ``transfer_group``, their
reversals, the fee each order leaves on the platform, refunds and dispute funds).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from django.db.models import Q, QuerySet, Sum
from django.utils import timezone

from marketplace.compiled_sql import ByValue
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
    LedgerMovement,
    Posting,
    dispute_withdrawal_postings,
    ledger_record,
    ledger_record_many,
    movement_postings,
)
from sellers.models import Seller

if TYPE_CHECKING:
    from marketplace.stripe_gateway import Charge, Dispute, Movement, Transfer

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


def _sync_separate_refunds(*, charge_id: str, refunds: Iterable[Movement]) -> None:
    """Each order of a several-seller charge learns its own refunded total: the succeeded
    refunds of the charge naming it in their metadata (our refunds always do)."""
    per_order: dict[int, tuple[int, str]] = {}
    for refund in refunds:
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
    from marketplace import stripe_gateway as gw

    recorded: list[str] = []
    for transfer in gw.transfers_list(transfer_group=charge.transfer_group):
        if transfer.source_transaction_id != charge.id:
            continue
        recorded += _record_separate_transfer(
            transfer=transfer,
            charge_id=charge.id,
            transfer_group=charge.transfer_group,
            currency=currency,
        )
    return recorded


def _record_separate_transfer(
    *, transfer: Transfer, charge_id: str, transfer_group: str, currency: str
) -> list[str]:
    """One transfer of a several-seller charge, its separate fee and its reversals."""
    from buyers.models import Order
    from marketplace import stripe_gateway as gw

    K = LedgerTransaction.Kind
    recorded: list[str] = []
    destination = transfer.destination_id
    seller = Seller.objects.filter(stripe_account_id=destination).first()
    if seller is None:
        raise LedgerError(f"transfer {transfer.id} pays {destination}, not one of our sellers")
    raw = transfer.order_id
    order = (
        Order.objects.filter(pk=int(raw), charge_id=charge_id).only("pk", "amount").first()
        if raw.isdigit()
        else None
    )
    order_id = order.pk if order else None
    amount = transfer.amount

    def record(kind: str, object_id: str, postings: list[Posting], at: int | None) -> None:
        _, created = ledger_record(
            kind=kind,
            stripe_object_id=object_id,
            postings=postings,
            seller=seller,
            order_id=order_id,
            charge_id=charge_id,
            occurred_at=_ts(at) or timezone.now(),
            description=f"{kind} of charge {charge_id} ({transfer_group})",
        )
        if created:
            recorded.append(f"{kind}:{object_id}")

    record(
        K.TRANSFER,
        transfer.id,
        movement_postings(kind=K.TRANSFER, amount=amount, currency=currency, seller_id=seller.pk),
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
        reversals = transfer.reversals
        if reversals is None:
            reversals = tuple(gw.transfer_reversals_list(transfer_id=transfer.id))
        for reversal in reversals:
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


# --- What an event already told us ----------------------------------------------------------


def _recorded(kind: str, object_id: str) -> LedgerTransaction | None:
    return (
        LedgerTransaction.objects.filter(kind=kind, stripe_object_id=object_id)
        .only("id", "seller_id", "order_id", "charge_id")
        .first()
    )


def _charge_ledger_rows(charge_id: str) -> QuerySet[LedgerTransaction, tuple[Any, ...]]:
    rows: QuerySet[LedgerTransaction, tuple[Any, ...]] = (
        LedgerTransaction.objects.filter(charge_id=charge_id)
        .values_list("kind", "stripe_object_id", "seller_id")
        .annotate(positive=Sum("entries__amount", filter=Q(entries__amount__gt=0)))
    )
    return rows


# Read for every money event: compiled once (the ORM's grouping and filtered aggregate cost
# more to compile than the query takes to run).
_CHARGE_LEDGER_ROWS = ByValue(_charge_ledger_rows, LedgerTransaction, "charge_id")


def _seller_of_account(account: str) -> QuerySet[Seller, Seller]:
    return Seller.objects.filter(stripe_account_id=account).order_by("pk")[:1]


_SELLER_OF_ACCOUNT = ByValue(_seller_of_account, Seller, "stripe_account_id")


@dataclass(frozen=True)
class _ChargeLedger:
    """What the ledger holds of one charge, read in ONE query: each transaction's (kind, Stripe
    object) with its seller and the sum of its positive legs."""

    rows: dict[tuple[str, str], tuple[int | None, int]]

    @classmethod
    def read(cls, charge_id: str) -> _ChargeLedger:
        found = _CHARGE_LEDGER_ROWS.values(charge_id)
        return cls({(kind, oid): (seller, int(total or 0)) for kind, oid, seller, total in found})

    def has(self, kind: str, object_id: str) -> bool:
        return (kind, object_id) in self.rows

    def total(self, kind: str, seller_id: int | None = None) -> int:
        return sum(
            amount
            for (k, _), (seller, amount) in self.rows.items()
            if k == kind and (seller_id is None or seller == seller_id)
        )


def _told_nothing_new(
    told: Mapping[str, Any], charge_id: str, ledger: _ChargeLedger | None = None
) -> bool:
    """True when the ledger already holds everything the event's object says about the charge
    (a charge.succeeded for a recorded charge, a transfer.created for a recorded transfer, a
    refund event for a recorded refund ...): then the event needs no request to Stripe.

    Only facts the object states that can only grow are compared (an amount refunded or
    reversed, an object's existence); anything else is re-read. ``ledger``: the charge's
    ledger as already read (``_ChargeLedger``), else read here (one query)."""
    K = LedgerTransaction.Kind
    kind, object_id = told.get("object"), str(told.get("id") or "")
    if not object_id or kind not in ("charge", "transfer", "refund", "application_fee"):
        return False
    held = ledger or _ChargeLedger.read(charge_id)
    if kind == "charge":
        transfer, fee = _ref_of(told.get("transfer")), _ref_of(told.get("application_fee"))
        return (
            held.has(K.CHARGE, object_id)
            and not told.get("disputed")
            and int(told.get("amount_refunded") or 0) <= held.total(K.REFUND)
            and (not transfer or held.has(K.TRANSFER, transfer))
            and (not fee or held.has(K.APPLICATION_FEE, fee))
        )
    if kind == "transfer":
        if not held.has(K.TRANSFER, object_id):
            return False
        reversed_ = int(told.get("amount_reversed") or 0)
        seller_id = held.rows[(K.TRANSFER, object_id)][0]
        return reversed_ == 0 or reversed_ <= held.total(K.TRANSFER_REVERSAL, seller_id)
    if kind == "refund":
        return held.has(K.REFUND, object_id)
    return held.has(K.APPLICATION_FEE, object_id) and int(
        told.get("amount_refunded") or 0
    ) <= held.total(K.FEE_REFUND)


def _told_separate_transfer(told: Mapping[str, Any], charge_id: str) -> list[str] | None:
    """A transfer of a recorded several-seller charge, as its ``transfer.created`` event states
    it: its amount, destination, order and creation are fixed when Stripe creates it, so it is
    recorded from the event (no request). None when this does not apply (then re-read)."""
    from marketplace.stripe_results import Transfer

    if told.get("object") != "transfer" or told.get("amount_reversed"):
        return None
    charge = _recorded(LedgerTransaction.Kind.CHARGE, charge_id)
    if charge is None or charge.seller_id is not None:  # not (yet) a separate charge of ours
        return None
    transfer = Transfer.from_stripe(dict(told))
    currency = str(told.get("currency") or "").lower()
    if transfer.source_transaction_id != charge_id or not currency:
        return None
    return _record_separate_transfer(
        transfer=transfer,
        charge_id=charge_id,
        transfer_group=transfer.transfer_group,
        currency=currency,
    )


@dataclass
class ChargeSyncResult:
    charge_id: str
    recorded: list[str]
    # The charge's ledger as read after recording, when the sync read it anyway.
    ledger: _ChargeLedger | None = None


def on_payment_read(charge: Charge) -> None:
    """``buyers.services.hooks.PAYMENT_READ_HOOKS``: a purchase's fulfilment read its charge
    (balance transaction, transfer and application fee expanded): record it from that."""
    ledger_sync_charge(charge_id=charge.id, charge=charge)


def _ref_of(value: object) -> str:
    """The id of an expandable field of an event's object (an id, an object, or nothing)."""
    if isinstance(value, Mapping):
        return str(value.get("id") or "")
    return str(value or "")


def _settling(told: Mapping[str, Any]) -> bool:
    """A captured, succeeded charge whose event names no balance transaction yet: Stripe's
    asynchronous capture (the default since API version 2024-04-10's successors) sends
    ``charge.succeeded`` before the charge settles and ``charge.updated`` once its balance
    transaction, transfer and application fee exist. The ledger waits for that event instead
    of reading the charge now."""
    return (
        told.get("object") == "charge"
        and told.get("status") == "succeeded"
        and bool(told.get("captured"))
        and not told.get("balance_transaction")
        and not told.get("amount_refunded")
        and not told.get("disputed")
    )


def _destination_transfer_first(
    told: Mapping[str, Any], charge_id: str, ledger: _ChargeLedger | None
) -> bool:
    """The transfer of a destination charge (Stripe's own: no ``metadata.order_id``, which our
    several-seller transfers carry) told before its charge is in the ledger: the charge's own
    event (``charge.updated`` once it settles, or ``charge.succeeded``) names the transfer and
    records it with the charge, so this event waits for nothing and reads nothing."""
    if told.get("object") != "transfer" or told.get("amount_reversed"):
        return False
    if (told.get("metadata") or {}).get("order_id"):
        return False
    if ledger is not None:
        return not ledger.has(LedgerTransaction.Kind.CHARGE, charge_id)
    return _recorded(LedgerTransaction.Kind.CHARGE, charge_id) is None


def _charge_from_event(told: Mapping[str, Any]) -> Charge | None:
    """The charge as its own signed event states it (``charge.succeeded``, ``charge.captured``),
    when that says everything the ledger records of it but Stripe's processing fee: a captured,
    succeeded charge with nothing refunded or disputed yet (then its transfer and application
    fee are as created: the whole amount or ``transfer_data[amount]`` transferred, the fee of
    ``application_fee_amount``), and its balance transaction named (the fee is read from it
    later, many charges per request: ``stripe_fees``). None when a read is needed: an older API
    version's payload without these fields, a transfer not made yet, money already moved back.
    The event was verified at intake (Stripe's signature, or listed from Stripe's API), and
    these facts are fixed when the charge is made: nothing newer can contradict them."""
    from marketplace.stripe_results import ApplicationFee, Charge, Transfer

    if told.get("object") != "charge" or told.get("status") != "succeeded":
        return None
    if not told.get("id") or not told.get("captured") or not told.get("paid"):
        return None
    if told.get("amount_refunded") or told.get("disputed") or told.get("refunded"):
        return None
    charge = Charge.from_stripe(dict(told))
    if not charge.balance_transaction_id or not charge.currency or charge.created is None:
        return None
    if charge.destination_id and not charge.transfer_id:
        return None  # the transfer is not made yet
    if charge.transfer_id and not charge.destination_id:
        return None  # a legacy shape: read it
    if charge.application_fee_id and charge.application_fee_amount is None:
        return None
    transfer = (
        Transfer(
            id=charge.transfer_id,
            amount=charge.money_taken if charge.transfer_amount is None else charge.transfer_amount,
            amount_reversed=0,
            destination_id=charge.destination_id,
            created=charge.created,
            reversals=(),
        )
        if charge.transfer_id
        else None
    )
    fee = (
        ApplicationFee(
            id=charge.application_fee_id,
            amount=int(charge.application_fee_amount or 0),
            amount_refunded=0,
            created=charge.created,
            refunds=(),
        )
        if charge.application_fee_id
        else None
    )
    return replace(charge, transfer=transfer, application_fee=fee, refunds=())


def _payment_told(charge: Charge) -> None:
    """The purchase a charge pays (its ``metadata.purchase_id``) learns the charge's ids from
    it, where it has none yet (``buyers.services.purchase_charge_told``: no request)."""
    if charge.purchase_id.isdigit():
        from buyers.services import purchase_charge_told

        purchase_charge_told(purchase_id=int(charge.purchase_id), charge=charge)


def ledger_sync_charge(
    *,
    charge_id: str,
    told: Mapping[str, Any] | None = None,
    charge: Charge | None = None,
    known_new: bool = False,
    ledger: _ChargeLedger | None = None,
) -> ChargeSyncResult:
    """Bring the ledger in line with everything Stripe did with one charge.

    Re-reads the charge from Stripe in ONE request (never trusting a possibly stale event
    payload for what can change): its balance transaction (Stripe's processing fee), transfer
    (with its reversals), application fee (with its refunds) and refunds come expanded; only a
    list longer than Stripe embeds (10), a several-seller charge's transfers and a disputed
    charge's disputes cost one more request each. Records every movement not yet in the ledger
    (``ledger_record`` is idempotent on the Stripe object, so running this again, or for
    duplicated or shuffled events, records nothing new). Only succeeded movements are recorded:
    a pending refund waits for its ``refund.updated``.

    ``told``: the event's ``data.object`` (signed by Stripe, verified at intake). When the
    ledger already holds everything it states, nothing is read (``_told_nothing_new``); a
    transfer of a recorded several-seller charge is recorded from it (its creation facts never
    change); a new charge is recorded from its own event's payload when that states all the
    ledger records (``_charge_from_event``: its transfer and application fee as created), its
    processing fee awaited (``stripe_fees.stripe_fee_expect``) and its ids handed to the
    purchase it pays (``_payment_told``). ``known_new``: the caller checked already that it
    tells something new (``ledger_sync_charge_told``), and ``ledger`` is the charge's ledger it
    read (a charge recorded from its event then returns the ledger as it left it, no look-up). ``charge``: the charge as a read made
    elsewhere told it (the fulfilment's, ``on_payment_read``); used instead of reading when its
    balance transaction was expanded (Stripe's processing fee), read otherwise.
    Raises ``GatewayError`` when Stripe cannot be reached (the event is retried).
    Returns what was newly recorded.
    """
    from marketplace import stripe_gateway as gw

    K = LedgerTransaction.Kind
    if told is not None:
        if not known_new:
            ledger = _ChargeLedger.read(charge_id)
            if _told_nothing_new(told, charge_id, ledger):
                return ChargeSyncResult(charge_id, [])
        if _destination_transfer_first(told, charge_id, ledger):
            return ChargeSyncResult(charge_id, [])
        from_event = _told_separate_transfer(told, charge_id)
        if from_event is not None:
            return ChargeSyncResult(charge_id, from_event)
        if _settling(told):
            # Recorded when its ``charge.updated`` comes; the purchase learns its ids now.
            _payment_told(gw.Charge.from_stripe(dict(told)))
            return ChargeSyncResult(charge_id, [])
    handed_over = charge is not None
    stated = _charge_from_event(told) if told is not None else None
    fee_awaited = stated is not None and stated.id == charge_id
    if fee_awaited:
        charge = stated
    elif charge is None or charge.id != charge_id or charge.processing_fee is None:
        charge = gw.charge_retrieve(charge_id=charge_id)
    assert charge is not None
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
    transfer = charge.transfer
    if transfer is None and transfer_id:
        transfer = gw.transfer_retrieve(transfer_id=transfer_id)
    destination = charge.destination_id or (transfer.destination_id if transfer else "")
    seller = _SELLER_OF_ACCOUNT.first(destination) if destination else None
    if destination and seller is None:
        raise LedgerError(f"charge {charge_id} pays account {destination}, not one of our sellers")
    when = _ts(charge.created) or timezone.now()
    # Separate charges and transfers (several sellers): the charge stays on the platform and
    # names its purchase by transfer_group; no one order is "the" order of the charge.
    separate = not transfer_id and not destination and bool(charge.transfer_group)
    if separate:
        order_id = None

    # The charge's movements are collected, then recorded together (``flush``): a few
    # statements for all of them instead of a handful each.
    pending: list[LedgerMovement] = []

    def record(kind: str, object_id: str, postings: list[Posting], at: int | None = None) -> None:
        pending.append(
            LedgerMovement(
                kind=kind,
                stripe_object_id=object_id,
                postings=postings,
                seller=seller,
                order_id=order_id,
                charge_id=charge_id,
                occurred_at=_ts(at) or when,
                description=f"{kind} of charge {charge_id}",
            )
        )

    held: dict[tuple[str, str], tuple[int | None, int]] = {}  # what the ledger now holds

    def flush() -> None:
        for movement, created in zip(pending, ledger_record_many(pending), strict=True):
            if created:
                recorded.append(f"{movement.kind}:{movement.stripe_object_id}")
            held[(movement.kind, movement.stripe_object_id)] = (
                movement.seller.pk if movement.seller else None,
                sum(p.amount for p in movement.postings if p.amount > 0),
            )
        pending.clear()

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
            movement_postings(kind=K.STRIPE_FEE, amount=fee_paid, currency=currency),
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
        fee = charge.application_fee or gw.application_fee_retrieve(fee_id=fee_id)
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
            fee_refunds = fee.refunds
            if fee_refunds is None:
                fee_refunds = tuple(gw.application_fee_refunds_list(fee_id=fee_id))
            for fr in fee_refunds:
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
        refunds = charge.refunds
        if refunds is None:
            refunds = tuple(gw.refunds_list(charge_id=charge_id))
        for refund in refunds:
            if refund.status != "succeeded":
                continue
            last_refund_id = last_refund_id or refund.id
            record(
                K.REFUND,
                refund.id,
                movement_postings(kind=K.REFUND, amount=refund.amount, currency=currency),
                refund.created,
            )
        flush()
        if separate:
            _sync_separate_refunds(charge_id=charge_id, refunds=refunds)
        elif order_id is not None:
            _sync_order_refund(
                order_id=order_id,
                refund_id=last_refund_id,
                charge_id=charge.id,
                refunded_total=charge.amount_refunded,
            )
        elif seller is not None:
            # No order: a subscription invoice's charge (one query finds out).
            from subscriptions.refunds import invoice_record_refund

            invoice_record_refund(charge_id=charge.id, refunded_total=charge.amount_refunded)
    if transfer is not None and seller is not None and transfer.amount_reversed:
        reversals = transfer.reversals
        if reversals is None:
            reversals = tuple(gw.transfer_reversals_list(transfer_id=transfer_id))
        for reversal in reversals:
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
    flush()
    if fee_awaited:
        # Stripe's processing fee is on the charge's balance transaction: read later with
        # others (one list request per 100 charges), after this batch of events.
        from payouts.services.stripe_fees import stripe_fee_expect

        stripe_fee_expect(
            charge_id=charge_id,
            balance_transaction_id=charge.balance_transaction_id,
            currency=currency,
            created=int(charge.created or 0),
            seller_id=sid,
            order_id=order_id,
        )
    if told is not None and told.get("object") == "charge":
        _payment_told(charge)
    after = None
    if fee_awaited and ledger is not None:
        # The charge's ledger as it was, with what this sync recorded: no look-up needed.
        after = _ChargeLedger({**ledger.rows, **held})
    # A charge's own event (charge.succeeded ...) and the fulfilment's read come before its
    # transfers exist: each transfer.created records its transfer (above, from the event).
    # Otherwise list them.
    if separate and not handed_over and (told is None or told.get("object") != "charge"):
        recorded += _record_separate_transfers(charge=charge, currency=currency)
    if charge.disputed:
        for dispute in gw.disputes_list(charge_id=charge_id):
            recorded += _record_dispute_funds(
                dispute=dispute, seller=seller, order_id=order_id, charge_id=charge_id
            )
    return ChargeSyncResult(charge_id, recorded, ledger=after)


def ledger_sync_charge_told(*, charge_id: str, told: list[Mapping[str, Any]]) -> ChargeSyncResult:
    """``ledger_sync_charge`` for several events of one charge (their ``data.object``, in the
    order to consider them): one look-up of the charge's ledger answers, for all of them, whether
    they tell anything new; the first that does syncs the charge, and the others are checked
    again against the ledger as that sync left it (one more look-up, unless the sync made it).
    Nothing new: no request.
    """
    if any(_charge_from_event(each) is not None for each in told):
        # The settled charge's own event states all that a settling one would tell.
        told = [each for each in told if not _settling(each)]
    ledger = _ChargeLedger.read(charge_id)
    recorded: list[str] = []
    for i, each in enumerate(told):
        if _told_nothing_new(each, charge_id, ledger):
            continue
        result = ledger_sync_charge(charge_id=charge_id, told=each, known_new=True, ledger=ledger)
        recorded += result.recorded
        if i + 1 < len(told) and (result.recorded or result.ledger):
            ledger = result.ledger or _ChargeLedger.read(charge_id)
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
