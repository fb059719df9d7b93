"""Subscription invoices in the ledger: each paid invoice is a destination charge (to the
seller, the platform's ``application_fee_percent`` kept), recorded like an order's charge by
``charge_sync.ledger_sync_charge`` (charge, Stripe's fee, transfer, application fee, then any
refund, reversal or dispute). The ``charge.*`` events already record it; ``invoice_paid`` (the
subscriptions app's signal, connected in ``PayoutsConfig.ready()``) makes sure, so an invoice's
money is in the ledger even when its charge events went missing (a charge already recorded is
not read again).

``invoices_against_ledger`` is the ledger check for invoices: a paid invoice's charge is in the
ledger (an hour after payment, time for its events) for the amount paid.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from typing import Any

from django.db.models import Sum
from django.utils import timezone

from payouts.models import LedgerEntry, LedgerTransaction
from payouts.services import charge_sync
from subscriptions.models import SubscriptionInvoice

logger = logging.getLogger(__name__)

SETTLE_TIME = dt.timedelta(hours=1)


def invoice_ledger_sync(*, charge_id: str) -> charge_sync.ChargeSyncResult:
    """Record the money of the charge that paid an invoice (idempotent). A charge the ledger
    holds already (its ``charge.succeeded`` came first, as it usually does) costs no request:
    what happens to it later (refunds, disputes) comes through the charge's own events."""
    recorded = LedgerTransaction.objects.filter(
        kind=LedgerTransaction.Kind.CHARGE, stripe_object_id=charge_id
    ).exists()
    if recorded:
        return charge_sync.ChargeSyncResult(charge_id, [])
    return charge_sync.ledger_sync_charge(charge_id=charge_id)


def on_invoice_paid(sender: Any, *, charge_id: str, **kwargs: Any) -> None:
    """``subscriptions.signals.invoice_paid`` receiver: the ledger catches up on the charge.
    A failure here is logged, not raised: the charge's own events retry it."""
    try:
        invoice_ledger_sync(charge_id=charge_id)
    except Exception:
        logger.exception("ledger sync of invoice charge %s failed", charge_id)


def invoices_against_ledger(now: dt.datetime | None = None) -> Iterator[str]:
    """Each paid invoice's charge is in the ledger for the amount paid."""
    settled = (now or timezone.now()) - SETTLE_TIME
    paid = SubscriptionInvoice.objects.filter(status="paid", amount_paid__gt=0)
    charges = [i for i in paid.values("stripe_invoice_id", "charge_id", "amount_paid", "paid_at")]
    ids = [row["charge_id"] for row in charges if row["charge_id"]]
    captured = dict(
        LedgerEntry.objects.filter(
            transaction__kind=LedgerTransaction.Kind.CHARGE,
            transaction__stripe_object_id__in=ids,
            account="buyer:payments",
        )
        .values_list("transaction__stripe_object_id")
        .annotate(total=Sum("amount"))
    )
    for row in charges:
        charge_id = row["charge_id"]
        if not charge_id:
            # Not learnt yet: the charge.* events still record it in the ledger, and
            # ``invoice.paid`` names it. Past the settling time, a paid invoice whose charge we
            # never learnt is a gap: its money may be missing from the ledger.
            if row["paid_at"] is None or row["paid_at"] < settled:
                yield (
                    f"invoice {row['stripe_invoice_id']}: paid at Stripe but its charge is "
                    "unknown to us, so its money cannot be found in the ledger"
                )
            continue
        if charge_id not in captured:
            if row["paid_at"] is None or row["paid_at"] < settled:
                yield f"invoice {row['stripe_invoice_id']}: paid at Stripe but its charge is not in the ledger"
            continue
        if -int(captured[charge_id]) != row["amount_paid"]:
            yield (
                f"invoice {row['stripe_invoice_id']}: paid {row['amount_paid']} but the ledger "
                f"captured {-int(captured[charge_id])}"
            )
