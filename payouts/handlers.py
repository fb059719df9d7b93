"""Stripe events that move money: each records the ledger and mirrors state, idempotently.

Registered in ``PayoutsConfig.ready()``. The event pipeline runs each handler in one transaction
per event and retries it when it raises. Forward-only state and the ledger's uniqueness on the
Stripe object make duplicated and out-of-order deliveries harmless.
"""

from __future__ import annotations

import functools
import logging

from django.db import transaction
from django.db.models import QuerySet

from marketplace.compiled_sql import ByValue
from marketplace.events.models import StripeEvent
from marketplace.events.registry import after_batch, handles, handles_together
from payouts.models import Payout
from payouts.services import balances, charge_sync, disputes, stripe_fees
from sellers.models import Seller

logger = logging.getLogger(__name__)

# Stripe's processing fees that this batch's charges left awaited: recorded by a task queued
# after the batch, one list request for up to 100 of them (nothing at all when none was awaited).
after_batch(stripe_fees.record_expected_fees)


def _seller_id_of_account(account: str) -> QuerySet[Seller, tuple[int]]:
    return Seller.objects.filter(stripe_account_id=account).values_list("pk")[:1]


_SELLER_ID_OF_ACCOUNT = ByValue(_seller_id_of_account, Seller, "stripe_account_id")


def _seller_for_account(account: str) -> Seller | None:
    """The seller of a connected account, its id only read (SQL compiled once; the other
    fields load if used, as with ``only("pk")``)."""
    if not account:
        return None
    rows = _SELLER_ID_OF_ACCOUNT.values(account)
    return Seller.from_db("default", ["id"], rows[0]) if rows else None


PAYOUT_EVENTS = (
    "payout.created",
    "payout.updated",
    "payout.paid",
    "payout.failed",
    "payout.canceled",
)
MONEY_EVENTS = (
    "charge.succeeded",
    "charge.captured",
    # A captured charge's balance transaction, transfer and application fee (asynchronous
    # capture: Stripe names them on the charge after ``charge.succeeded``).
    "charge.updated",
    "charge.refunded",
    "charge.refund.updated",
    "refund.created",
    "refund.updated",
    "transfer.created",
    "transfer.reversed",
    "application_fee.refunded",
)


@handles(*PAYOUT_EVENTS)
def on_payout(event: StripeEvent) -> None:
    """A payout of a connected account: mirror it, record the ledger, email the seller when it
    failed (in the service) or reached their bank (here, once)."""
    data = event.data_object
    if data.get("object") not in (None, "payout") or not data.get("id"):
        return
    seller = _seller_for_account(event.account)
    if seller is None:
        logger.info(
            "event %s: payout of account %r, not one of our sellers", event.stripe_id, event.account
        )
        return
    # The status before is read under the payout's row lock, so that two events saying "paid"
    # (payout.paid, payout.updated) email once.
    payout, prior = balances.payout_sync_from(seller=seller, data=data)
    if payout.status == Payout.Status.PAID and prior != Payout.Status.PAID:
        from payouts import tasks

        transaction.on_commit(functools.partial(tasks.send_payout_paid_email.delay, payout.pk))


def _payout_key(event: StripeEvent) -> str | None:
    data = event.data_object
    if data.get("object") not in (None, "payout") or not data.get("id"):
        return None
    return f"{event.account}/{data['id']}"


@handles_together(*PAYOUT_EVENTS, key=_payout_key)
def on_payout_together(events: list[StripeEvent]) -> None:
    """Several events of one payout in a batch: its state only moves forward (``Payout.RANK``)
    and its ledger is keyed on the payout, so the most advanced snapshot (then the newest)
    leaves the state all of them would: handled once."""

    def advance(event: StripeEvent) -> tuple[int, object, int]:
        status = str(event.data_object.get("status") or "pending")
        return (Payout.RANK.get(status, 0), event.created, event.id)

    on_payout(max(events, key=advance))


def _charge_id_of(event: StripeEvent) -> str:
    obj = event.data_object
    kind = obj.get("object")
    if kind == "charge":
        return str(obj.get("id") or "")
    if kind in ("refund", "dispute", "application_fee"):
        value = obj.get("charge") or obj.get("originating_transaction")
        return str(value.get("id") if isinstance(value, dict) else value or "")
    if kind == "transfer":
        value = obj.get("source_transaction")
        return str(value.get("id") if isinstance(value, dict) else value or "")
    return ""


@handles(*MONEY_EVENTS)
def on_money_moved(event: StripeEvent) -> None:
    """Record in the ledger what Stripe did with the charge, re-read from Stripe."""
    if event.account:
        # Destination charges live on the platform; a connected account's copy of the movement
        # (its py_ payment, its refund) is already in the ledger through the platform's events.
        return
    charge_id = _charge_id_of(event)
    if not charge_id.startswith(("ch_", "py_")):
        logger.info("event %s: no charge to sync", event.stripe_id)
        return
    # The event's object tells what it changed: when the ledger holds it already, no request.
    charge_sync.ledger_sync_charge(charge_id=charge_id, told=event.data_object)


def _charge_key(event: StripeEvent) -> str | None:
    if event.account:
        return None
    charge_id = _charge_id_of(event)
    return charge_id if charge_id.startswith(("ch_", "py_")) else None


@handles_together(*MONEY_EVENTS, key=_charge_key)
def on_money_moved_together(events: list[StripeEvent]) -> None:
    """Several events of one charge in a batch: the ledger is checked against all they tell
    with one look-up, and the charge is synced at most once (a read made now is newer than any
    of them). The charge's own events go first: a charge of a pending purchase is recorded
    through its fulfilment's read, which a transfer's event coming first would duplicate."""
    ordered = sorted(
        events, key=lambda e: (e.data_object.get("object") != "charge", e.created, e.id)
    )
    charge_sync.ledger_sync_charge_told(
        charge_id=_charge_id_of(events[0]), told=[e.data_object for e in ordered]
    )


@handles(
    "charge.dispute.created",
    "charge.dispute.updated",
    "charge.dispute.closed",
    "charge.dispute.funds_withdrawn",
    "charge.dispute.funds_reinstated",
)
def on_dispute(event: StripeEvent) -> None:
    """Mirror the dispute (flag the order, emails, evidence deadline) and record its money."""
    data = event.data_object
    if event.account or data.get("object") not in (None, "dispute") or not data.get("id"):
        return
    charge_id = _charge_id_of(event)
    if charge_id:
        charge_sync.ledger_sync_charge(charge_id=charge_id)
    disputes.dispute_sync(data=data)
