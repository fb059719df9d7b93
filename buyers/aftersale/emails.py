"""The after-sale's emails: each says what happened, quotes what the other side wrote, and links
to the page where the reader acts. One template pair, ``templates/buyers/email/aftersale.*``."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, mail_admins
from django.template.loader import render_to_string
from django.urls import reverse

from buyers.aftersale.models import OrderMessage, ProblemReport, Review
from buyers.models import Order
from marketplace.money import Money


@dataclass(frozen=True)
class Mail:
    to: str
    page: str
    subject: str
    headline: str
    quote: str = ""
    next_step: str = ""


def _buyer(order: Order) -> tuple[str, str]:
    return (order.buyer_email or order.buyer.email), reverse("buyers:order_detail", args=[order.pk])


def _seller(order: Order) -> tuple[str, str]:
    return order.seller.user.email, reverse("buyers:sale_detail", args=[order.pk])


def _problem_mails(kind: str, report: ProblemReport) -> list[Mail]:
    order = report.order
    asked = (
        f" and asks for a refund of {Money(report.amount, order.currency)}"
        if report.wants_refund and report.amount
        else " and asks for a refund"
        if report.wants_refund
        else ""
    )
    if kind == "problem_opened":
        to, page = _seller(order)
        return [
            Mail(
                to,
                page,
                f"Sale #{order.pk}: the buyer reports a problem",
                f"The buyer of sale #{order.pk} ({order.title}) reports: "
                f"{report.get_reason_display().lower()}{asked}.",
                report.message,
                "Answer on the sale's page: refund (all or part) or decline with a reason.",
            )
        ]
    if kind == "problem_declined":
        to, page = _buyer(order)
        return [
            Mail(
                to,
                page,
                f"Order #{order.pk}: the seller declined your request",
                f"{order.seller.display_name} declined your request on order #{order.pk}.",
                report.answer,
                "If you disagree, ask the platform team to decide, from your order's page.",
            )
        ]
    if kind == "problem_escalated":
        to, page = _seller(order)
        mail_admins(
            f"Refund request on order #{order.pk} handed to the platform team",
            f"The buyer of order #{order.pk} ({order.title}, {order.seller.display_name}) asks "
            f"the platform team to decide: {report.get_reason_display()}.\n\n{report.message}"
            f"\n\n{settings.SITE_URL}{reverse('payouts:problem_detail', args=[report.pk])}",
        )
        return [
            Mail(
                to,
                page,
                f"Sale #{order.pk}: the buyer asked the platform team to decide",
                f"The buyer of sale #{order.pk} handed their request to the platform team.",
                report.message,
                "The platform team reads the request and your conversation, and decides.",
            )
        ]
    if kind == "problem_granted":
        to, page = _buyer(order)
        return [
            Mail(
                to,
                page,
                f"Order #{order.pk}: your refund of "
                f"{Money(report.refunded_amount, order.currency)} is on its way",
                f"Your request on order #{order.pk} was granted: "
                f"{Money(report.refunded_amount, order.currency)} goes back to your card.",
                report.answer,
                "The refund reaches your card within 5 to 10 days.",
            )
        ]
    if kind == "problem_closed":
        mails = []
        for to, page in (_buyer(order), _seller(order)):
            mails.append(
                Mail(
                    to,
                    page,
                    f"Order #{order.pk}: the platform team closed the request",
                    f"The platform team declined the refund request on order #{order.pk}.",
                    report.answer,
                )
            )
        return mails
    raise ValueError(kind)


def _mails(kind: str, object_id: int) -> list[Mail]:
    if kind.startswith("problem_"):
        report = ProblemReport.objects.select_related("order__seller__user", "order__buyer").get(
            pk=object_id
        )
        return _problem_mails(kind, report)
    if kind == "message_posted":
        message = OrderMessage.objects.select_related("order__seller__user", "order__buyer").get(
            pk=object_id
        )
        order = message.order
        who = {
            "buyer": "The buyer",
            "seller": order.seller.display_name,
            "staff": "The platform team",
        }[message.role]
        targets = []
        if message.role != OrderMessage.Role.BUYER:
            targets.append(_buyer(order))
        if message.role != OrderMessage.Role.SELLER:
            targets.append(_seller(order))
        return [
            Mail(
                to,
                page,
                f"New message about order #{order.pk}: {order.title}",
                f"{who} wrote about order #{order.pk}.",
                message.body,
                "Answer on the order's page (replies to this email are not read).",
            )
            for to, page in targets
        ]
    if kind == "review_posted":
        review = Review.objects.select_related("order__seller__user").get(pk=object_id)
        to, page = _seller(review.order)
        return [
            Mail(
                to,
                page,
                f"New review ({review.rating}/5) of sale #{review.order_id}",
                f"The buyer of sale #{review.order_id} rated it {review.rating} out of 5.",
                review.body,
                "You can reply once, from the sale's page.",
            )
        ]
    raise ValueError(kind)


def send_aftersale_email(*, kind: str, object_id: int) -> int:
    """Send the ``kind`` emails of a problem report, a message or a review; returns how many."""
    sent = 0
    for mail in _mails(kind, object_id):
        if not mail.to:
            continue
        context = {
            "mail": mail,
            "url": settings.SITE_URL + mail.page,
            "site_url": settings.SITE_URL,
        }
        message = EmailMultiAlternatives(
            subject=mail.subject,
            body=render_to_string("buyers/email/aftersale.txt", context),
            to=[mail.to],
        )
        message.attach_alternative(
            render_to_string("buyers/email/aftersale.html", context), "text/html"
        )
        message.send()
        sent += 1
    return sent
