"""Writes of the after-sale: problem reports, order messages, reviews.

Every function is keyword-only, atomic, locks the rows it changes, and enqueues its emails on
commit (``buyers.aftersale.tasks``). Granting a problem report is a refund, so it lives above,
in ``payouts.services.problem_refunds``; it calls ``problem_report_mark_granted`` here.
"""

from __future__ import annotations

import functools
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.utils import timezone

from buyers.aftersale.models import (
    MESSAGE_MAX,
    REPORT_MAX,
    REVIEW_MAX,
    OrderMessage,
    ProblemReport,
    Review,
)
from buyers.models import Order
from marketplace.audit.services import Action, audit_record, snapshot
from marketplace.errors import UserFacingError
from marketplace.money import Money

# Orders the buyer may report a problem with: paid, shipped (a partly refunded one stays paid
# or shipped; a fully refunded one is done).
REPORTABLE = frozenset({Order.Status.PAID, Order.Status.FULFILLED})
OPEN_DISPUTE = frozenset(
    {"needs_response", "under_review", "warning_needs_response", "warning_under_review"}
)


def _email(kind: str, object_id: int) -> None:
    from buyers.aftersale import tasks

    transaction.on_commit(functools.partial(tasks.send_aftersale_email.delay, kind, object_id))


def text_of(value: str | None, *, limit: int, field: str, empty: str) -> str:
    """What someone typed, trimmed; ``UserFacingError`` on ``field`` when it is empty (``empty``
    says what to write) or longer than ``limit`` (also for subscriptions' refund requests)."""
    text = (value or "").strip()
    if not text:
        raise UserFacingError(empty, field=field)
    if len(text) > limit:
        raise UserFacingError(
            f"Keep it under {limit} characters (this one has {len(text)}).", field=field
        )
    return text


def _is_staff(user: Any) -> bool:
    return bool(getattr(user, "is_authenticated", False) and getattr(user, "is_staff", False))


# --- Problem reports --------------------------------------------------------------------------


def problem_report_create(
    *,
    buyer: Any,
    order_id: int,
    reason: str,
    message: str,
    wants_refund: bool = True,
    amount: int | None = None,
    lines: dict[int, int] | None = None,
) -> ProblemReport:
    """The buyer of a paid or shipped order reports a problem, asking for a refund of
    ``amount`` minor units, or of some items (``lines``: order line id -> units, at the price
    paid), or of what remains of the order (neither), or no refund.

    Refused with a message (``UserFacingError``): an unpaid, refunded or disputed order, an
    empty or over-long message, an unknown reason, an amount of zero or above what remains, and
    a second report while one is still waiting for an answer. Someone else's order raises
    ``Order.DoesNotExist`` (the view answers 404).
    Side effects: the seller is emailed.
    """
    if reason not in ProblemReport.Reason.values:
        raise UserFacingError("Choose what went wrong.", field="reason")
    text = text_of(
        message, limit=REPORT_MAX, field="message", empty="Tell the seller what went wrong."
    )
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order_id, buyer=buyer)
        if order.status not in REPORTABLE:
            raise UserFacingError(
                "Only a paid or shipped order can be reported; this one is "
                f"{order.get_status_display().lower()}."
            )
        if order.dispute_status in OPEN_DISPUTE:
            raise UserFacingError(
                "Your bank has a dispute open on this payment: it decides, so a refund request "
                "waits until the dispute is closed. You can still write to the seller."
            )
        if ProblemReport.objects.filter(order=order, status__in=ProblemReport.ACTIVE).exists():
            raise UserFacingError("This order already has a request waiting for an answer.")
        remaining = order.amount - order.refunded_amount
        chosen = {pk: n for pk, n in (lines or {}).items() if n}
        if wants_refund and chosen:
            if amount is not None:
                raise UserFacingError(
                    "Ask for an amount or for some items, not both.", field="amount"
                )
            amount = _lines_amount(order, chosen)
        if wants_refund and amount is not None:
            if amount <= 0:
                raise UserFacingError("Enter an amount above zero.", field="amount")
            if amount > remaining:
                raise UserFacingError(
                    f"At most {Money(remaining, order.currency)} can be refunded on this order.",
                    field="amount",
                )
        try:
            with transaction.atomic():
                report = ProblemReport.objects.create(
                    order=order,
                    buyer=order.buyer,
                    reason=reason,
                    message=text,
                    wants_refund=wants_refund,
                    amount=amount if wants_refund else None,
                    lines={str(pk): n for pk, n in chosen.items()} if wants_refund else {},
                )
        except IntegrityError:  # pragma: no cover - the order's lock makes this unreachable
            raise UserFacingError(
                "This order already has a request waiting for an answer."
            ) from None
        _email("problem_opened", report.pk)
    return report


def _lines_amount(order: Order, chosen: dict[int, int]) -> int:
    """The price paid for ``chosen`` units of the order's lines; a message for a line not of
    this order or a number of units it does not hold."""
    by_id = {line.pk: line for line in order.lines.all()}
    total = 0
    for pk, units in chosen.items():
        line = by_id.get(pk)
        if line is None:
            raise UserFacingError("That item is not part of this order.")
        if isinstance(units, bool) or not isinstance(units, int) or not 0 <= units <= line.quantity:
            raise UserFacingError(f"Choose 0 to {line.quantity} of {line.title}.")
        total += line.unit_amount * units
    return total


def _lock_report(report_id: int) -> ProblemReport:
    return (
        ProblemReport.objects.select_for_update(of=("self",))
        .select_related("order__seller")
        .get(pk=report_id)
    )


def problem_report_decline(*, actor: Any, report_id: int, answer: str) -> ProblemReport:
    """The seller declines an open report, or staff close an open, declined or escalated one,
    with a reason the buyer reads.

    The seller's decline leaves the buyer the choice to ask the platform team
    (``problem_report_escalate``); staff's answer is final (audited). Refused with a message:
    an empty or over-long reason, a report already answered. Anyone else: ``PermissionDenied``.
    Side effects: the buyer (and, for staff, the seller) is emailed.
    """
    text = text_of(
        answer, limit=REPORT_MAX, field="answer", empty="Say why, so the buyer understands."
    )
    with transaction.atomic():
        report = _lock_report(report_id)
        staff = _is_staff(actor)
        if not staff and report.order.seller.user_id != getattr(actor, "pk", None):
            raise PermissionDenied("not your sale")
        if staff and report.order.seller.user_id != actor.pk:
            if not report.is_active:
                raise UserFacingError("This request has been answered already.")
            before = snapshot(report, ["status", "answer"])
            report.status = ProblemReport.Status.CLOSED
        else:
            if report.status != ProblemReport.Status.OPEN:
                raise UserFacingError("This request has been answered already.")
            before = None
            report.status = ProblemReport.Status.DECLINED
        report.answer = text
        report.answered_by = actor
        report.answered_at = timezone.now()
        report.save(update_fields=["status", "answer", "answered_by", "answered_at", "updated_at"])
        if before is not None:
            audit_record(
                action=Action.PROBLEM_CLOSE,
                target=report,
                actor=actor,
                object_repr=f"refund request {report.pk} on order #{report.order_id}",
                summary=text[:500],
                before=before,
                after=snapshot(report, ["status", "answer"]),
            )
        _email(
            "problem_closed"
            if report.status == ProblemReport.Status.CLOSED
            else "problem_declined",
            report.pk,
        )
    return report


def problem_report_escalate(*, buyer: Any, report_id: int) -> ProblemReport:
    """The buyer hands a report the seller declined (or has not answered) to the platform team.

    Refused with a message once it is granted, closed or already with the team; someone else's
    report raises ``ProblemReport.DoesNotExist``. Side effects: the seller is emailed."""
    with transaction.atomic():
        report = ProblemReport.objects.select_for_update().get(pk=report_id, buyer=buyer)
        if report.status == ProblemReport.Status.ESCALATED:
            return report
        if report.status not in (ProblemReport.Status.OPEN, ProblemReport.Status.DECLINED):
            raise UserFacingError("This request is answered; there is nothing to escalate.")
        report.status = ProblemReport.Status.ESCALATED
        report.escalated_at = timezone.now()
        report.save(update_fields=["status", "escalated_at", "updated_at"])
        _email("problem_escalated", report.pk)
    return report


def problem_report_check_grantable(*, actor: Any, report_id: int) -> ProblemReport:
    """Lock and return a report ``actor`` may grant now: the order's seller while it is open,
    staff while it is open, declined or escalated. Call inside a transaction.
    ``PermissionDenied`` for anyone else; ``UserFacingError`` when it is answered."""
    report = _lock_report(report_id)
    staff = _is_staff(actor)
    if not staff and report.order.seller.user_id != getattr(actor, "pk", None):
        raise PermissionDenied("not your sale")
    allowed = (
        ProblemReport.ACTIVE
        if staff
        else frozenset({ProblemReport.Status.OPEN, ProblemReport.Status.ESCALATED})
    )
    if report.status not in allowed:
        raise UserFacingError("This request has been answered already.")
    return report


def problem_report_mark_granted(
    *, report: ProblemReport, actor: Any, amount: int, refund_request_id: int, answer: str = ""
) -> ProblemReport:
    """Record that ``report`` (locked by ``problem_report_check_grantable``) was granted by a
    refund of ``amount`` (``payouts.RefundRequest`` ``refund_request_id``). Emails the buyer."""
    report.status = ProblemReport.Status.GRANTED
    report.refunded_amount = amount
    report.refund_request_id = refund_request_id
    report.answer = (answer or "").strip()[:REPORT_MAX]
    report.answered_by = actor
    report.answered_at = timezone.now()
    report.last_error = ""
    report.save()
    _email("problem_granted", report.pk)
    return report


def problem_report_note_error(*, report: ProblemReport, error: str) -> None:
    """Keep on the report why its refund was refused (shown to whoever grants it)."""
    report.last_error = error[:500]
    report.save(update_fields=["last_error", "updated_at"])


# --- Messages ---------------------------------------------------------------------------------


def conversation_role(*, user: Any, order: Order) -> str | None:
    """The part ``user`` takes in ``order``'s conversation, or None when they may not read it:
    the buyer, the seller, and staff while a dispute or a problem report is open."""
    if not getattr(user, "is_authenticated", False):
        return None
    if order.buyer_id == user.pk:
        return OrderMessage.Role.BUYER
    if order.seller.user_id == user.pk:
        return OrderMessage.Role.SELLER
    if _is_staff(user) and (
        order.dispute_status in OPEN_DISPUTE
        or ProblemReport.objects.filter(order=order, status__in=ProblemReport.ACTIVE).exists()
    ):
        return OrderMessage.Role.STAFF
    return None


def order_message_post(*, author: Any, order_id: int, body: str) -> OrderMessage:
    """``author`` (the order's buyer, its seller, or staff while a dispute or a problem report is
    open) writes in the order's conversation.

    Refused with a message: an empty message or one over ``MESSAGE_MAX`` characters (the text is
    given back to the form). Anyone else: ``PermissionDenied`` (the view answers 404).
    Side effects: the other side (both, for staff) is emailed."""
    text = text_of(body, limit=MESSAGE_MAX, field="body", empty="Write a message before sending.")
    with transaction.atomic():
        order = (
            Order.objects.select_for_update(of=("self",)).select_related("seller").get(pk=order_id)
        )
        role = conversation_role(user=author, order=order)
        if role is None:
            raise PermissionDenied("not a party to this order")
        message = OrderMessage.objects.create(order=order, author=author, role=role, body=text)
        _email("message_posted", message.pk)
    return message


# --- Reviews ----------------------------------------------------------------------------------


def review_create(*, buyer: Any, order_id: int, rating: Any, body: str) -> Review:
    """The buyer rates (1 to 5) and reviews a shipped order, once.

    Refused with a message: a rating outside 1 to 5 (or not a number), an empty or over-long
    text, an order not shipped yet, a second review. Someone else's order raises
    ``Order.DoesNotExist``. Side effects: the seller is emailed; the listing's and the shop's
    average include it at once."""
    if isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= 5:
        raise UserFacingError("Choose a rating from 1 to 5 stars.", field="rating")
    text = text_of(body, limit=REVIEW_MAX, field="body", empty="Write a few words about the order.")
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order_id, buyer=buyer)
        if order.status != Order.Status.FULFILLED:
            raise UserFacingError("You can review an order once it has been shipped.")
        if Review.objects.filter(order=order).exists():
            raise UserFacingError("You have reviewed this order already.")
        review = Review.objects.create(
            order=order,
            buyer=order.buyer,
            seller_id=order.seller_id,
            listing_id=order.listing_id,
            rating=rating,
            body=text,
        )
        _email("review_posted", review.pk)
    return review


def review_reply(*, seller_user: Any, review_id: int, reply: str) -> Review:
    """The seller answers a review of one of their sales, once.

    Refused with a message: an empty or over-long reply, a second reply. Another seller's
    review raises ``Review.DoesNotExist``."""
    text = text_of(reply, limit=REVIEW_MAX, field="reply", empty="Write your reply before sending.")
    with transaction.atomic():
        review = Review.objects.select_for_update().get(pk=review_id, seller__user=seller_user)
        if review.reply:
            raise UserFacingError("You have replied to this review already.")
        review.reply = text
        review.replied_at = timezone.now()
        review.save(update_fields=["reply", "replied_at"])
    return review


def review_hide(*, actor: Any, review_id: int, reason: str) -> Review:
    """Staff hide an abusive review from the listing and the shop (audited, with the reason).
    Anyone else: ``PermissionDenied``. Hiding a hidden review changes nothing."""
    if not _is_staff(actor):
        raise PermissionDenied("staff only")
    text = text_of(reason, limit=255, field="reason", empty="Say why the review is hidden.")
    with transaction.atomic():
        review = Review.objects.select_for_update().get(pk=review_id)
        if review.hidden_at is not None:
            return review
        before = snapshot(review, ["hidden_at", "hidden_reason"])
        review.hidden_at = timezone.now()
        review.hidden_reason = text
        review.save(update_fields=["hidden_at", "hidden_reason"])
        audit_record(
            action=Action.REVIEW_HIDE,
            target=review,
            actor=actor,
            object_repr=f"review of order #{review.order_id} ({review.rating}/5)",
            summary=text,
            before=before,
            after=snapshot(review, ["hidden_at", "hidden_reason"]),
        )
    return review
