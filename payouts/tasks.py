"""Celery tasks of the payouts app: they take ids and call a service."""

from __future__ import annotations

import logging

from celery import shared_task

from marketplace.errors import UserFacingError
from payouts.services.balances import seller_balance_refresh
from sellers.models import Seller

logger = logging.getLogger(__name__)


@shared_task(acks_late=True)
def refresh_seller_balance(seller_id: int) -> None:
    try:
        seller_balance_refresh(seller_id=seller_id)
    except UserFacingError as exc:
        logger.warning("balance refresh of seller %s failed: %s", seller_id, exc.message)


@shared_task(acks_late=True)
def refresh_all_seller_balances() -> int:
    """Periodic: enqueue a balance refresh for every seller with a connected account."""
    ids = list(
        Seller.objects.exclude(stripe_account_id__isnull=True)
        .exclude(stripe_account_id="")
        .values_list("id", flat=True)
    )
    for seller_id in ids:
        refresh_seller_balance.delay(seller_id)
    return len(ids)


@shared_task(acks_late=True)
def send_payout_failed_email(payout_id: int) -> None:
    from payouts import emails
    from payouts.models import Payout

    payout = Payout.objects.select_related("seller__user").get(pk=payout_id)
    emails.payout_failed(payout=payout)


@shared_task(acks_late=True)
def send_payout_paid_email(payout_id: int) -> None:
    from payouts import emails
    from payouts.models import Payout

    payout = Payout.objects.select_related("seller__user").get(pk=payout_id)
    emails.payout_paid(payout=payout)


@shared_task(acks_late=True)
def send_staff_refund_email(refund_request_id: int) -> None:
    from payouts import emails
    from payouts.models import RefundRequest

    refund = RefundRequest.objects.select_related("seller__user").get(pk=refund_request_id)
    emails.staff_refunded(refund=refund)


@shared_task(acks_late=True)
def send_dispute_opened_email(dispute_id: int) -> None:
    from payouts import emails
    from payouts.models import Dispute

    dispute = Dispute.objects.select_related("seller__user").get(pk=dispute_id)
    emails.dispute_opened(dispute=dispute)


@shared_task(acks_late=True)
def run_reconciliation(run_id: int) -> None:
    """Carry out a reconciliation staff queued (its row says the period and shows progress)."""
    from payouts.models import ReconciliationRun
    from payouts.reconciliation import reconcile

    run = ReconciliationRun.objects.filter(
        pk=run_id, status=ReconciliationRun.Status.QUEUED
    ).first()
    if run is not None:
        reconcile(start=run.period_start, end=run.period_end, run=run)


@shared_task(acks_late=True)
def reconcile_yesterday() -> int:
    """Daily: reconcile the previous UTC day; returns the run id (admins see the report)."""
    from datetime import UTC, datetime, timedelta

    from payouts.reconciliation import reconcile

    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return reconcile(start=today - timedelta(days=1), end=today).pk


@shared_task(acks_late=True)
def reconcile_days(start_day: str, end_day: str) -> int:
    """A run a person asked for (reconciliation_request): UTC days start_day..end_day."""
    from datetime import date

    from payouts.reconciliation import day_bounds, reconcile

    start, end = day_bounds(date.fromisoformat(start_day), date.fromisoformat(end_day))
    return reconcile(start=start, end=end).pk


@shared_task(acks_late=True)
def retry_due_refund_reversals() -> int:
    """Periodic: take back sellers' shares of refunds whose transfer reversal failed (or was
    left pending), once their backoff has passed; never reversed twice."""
    from payouts.services.refunds import refund_reversals_retry_due

    return refund_reversals_retry_due()


@shared_task(name="payouts.record_stripe_fees", acks_late=True)
def record_stripe_fees() -> int:
    """Record the Stripe processing fees awaited: queued by the event drain after a batch that
    awaited some, and periodic for the rest (another process's, or kept while Stripe was
    unreachable)."""
    from payouts.services.stripe_fees import stripe_fees_record

    return stripe_fees_record()
