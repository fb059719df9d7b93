"""Granting a buyer's problem report: a refund through the refund services, then the report
marked granted (``buyers.aftersale``), in one transaction."""

from __future__ import annotations

import uuid
from typing import Any

from django.db import transaction

from buyers.aftersale import services as aftersale
from buyers.aftersale.models import ProblemReport
from buyers.models import Purchase
from marketplace.errors import UserFacingError
from payouts.services.refunds import (
    order_refund_create,
    refund_request_create,
    sale_refund_create,
)

# The buyer's reason, as the refund's reason (what Stripe and the refunds list show).
REFUND_REASON: dict[str, str] = {
    ProblemReport.Reason.NOT_RECEIVED: "not_delivered",
    ProblemReport.Reason.DAMAGED: "damaged",
    ProblemReport.Reason.NOT_AS_DESCRIBED: "damaged",
    ProblemReport.Reason.CHANGED_MIND: "requested_by_customer",
    ProblemReport.Reason.OTHER: "requested_by_customer",
}


def problem_report_grant(
    *,
    actor: Any,
    report_id: int,
    amount: int | None,
    client_token: uuid.UUID,
    answer: str = "",
    platform_covers: bool = False,
) -> ProblemReport:
    """Grant a problem report: refund ``amount`` minor units of the order (None: what the buyer
    asked, or else what remains) and mark the report granted.

    Who: the order's seller while the report is open or with the platform team, staff while it
    is active (``PermissionDenied`` for anyone else). The seller's refund goes through
    ``sale_refund_create`` (the sale page's refund); staff's through ``refund_request_create``
    (one seller's purchase: the destination charge) or ``order_refund_create`` (one order of a
    several-seller purchase), with all their rules
    (refund window, what remains, the seller's balance, the same form twice); a refusal is kept
    on the report (``last_error``) and raised as ``UserFacingError``, and the report stays open.
    Side effects: the refund (Stripe, ledger, audit for staff), the buyer is emailed.
    """
    refused: UserFacingError | None = None
    with transaction.atomic():
        report = aftersale.problem_report_check_grantable(actor=actor, report_id=report_id)
        order = report.order
        if amount is None:
            amount = report.amount or (order.amount - order.refunded_amount)
        reason = REFUND_REASON.get(report.reason, "requested_by_customer")
        note = f"Buyer's request #{report.pk}: {report.get_reason_display()}"
        try:
            if order.seller.user_id == actor.pk:
                # The seller: the sale page's own refund (either kind of purchase).
                refund = sale_refund_create(
                    actor=actor,
                    order_id=order.pk,
                    amount=amount,
                    reason=reason,
                    client_token=client_token,
                    note=note,
                )
            elif order.purchase.charge_type == Purchase.ChargeType.SEPARATE:
                refund = order_refund_create(
                    actor=actor,
                    order_id=order.pk,
                    amount=amount,
                    reason=reason,
                    client_token=client_token,
                    note=note,
                )
            else:
                refund = refund_request_create(
                    actor=actor,
                    charge_id=order.charge_id,
                    amount=amount,
                    reason=reason,
                    client_token=client_token,
                    note=note,
                    platform_covers=platform_covers,
                )
        except UserFacingError as exc:
            # The refund services keep their refused request rows: this transaction commits.
            aftersale.problem_report_note_error(report=report, error=exc.message)
            refused = exc
        else:
            aftersale.problem_report_mark_granted(
                report=report,
                actor=actor,
                amount=amount,
                refund_request_id=refund.pk,
                answer=answer,
            )
    if refused is not None:
        raise refused
    return report


def problem_reports_settle(*, actor: Any, order_id: int, refund: Any) -> ProblemReport | None:
    """After the seller refunded ``order_id`` from the sale's refund form (``refund``: the
    RefundRequest Stripe accepted), the request the buyer has waiting on it, if any, is granted
    by that refund (the buyer is emailed). Returns the report, or None."""
    from payouts.models import RefundRequest

    if refund is None or refund.status != RefundRequest.Status.SUCCEEDED:
        return None
    with transaction.atomic():
        report = (
            ProblemReport.objects.filter(
                order_id=order_id,
                status__in=[ProblemReport.Status.OPEN, ProblemReport.Status.ESCALATED],
            )
            .values_list("pk", flat=True)
            .first()
        )
        if report is None:
            return None
        locked = aftersale.problem_report_check_grantable(actor=actor, report_id=report)
        return aftersale.problem_report_mark_granted(
            report=locked, actor=actor, amount=refund.amount, refund_request_id=refund.pk
        )
