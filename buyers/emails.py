"""The emails of the buying side, plain text and HTML, rendered from templates/buyers/email/."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse

from buyers.models import Order
from marketplace.money import Money


@dataclass(frozen=True)
class OrderEmail:
    subject: str
    to_seller: bool = False
    # The subject when only part of the order was refunded (a partial refund is not "refunded").
    partial_subject: str = ""


EMAILS: dict[str, OrderEmail] = {
    "order_paid_buyer": OrderEmail("Your order #{id} is paid: {title}"),
    "order_paid_seller": OrderEmail("New sale #{id}: {title}", to_seller=True),
    "order_payment_failed": OrderEmail("Payment failed for order #{id}: {title}"),
    "order_refunded_buyer": OrderEmail(
        "Order #{id} refunded: {title}",
        partial_subject="Order #{id} partly refunded ({refunded} back): {title}",
    ),
    "order_refunded_late_buyer": OrderEmail("Order #{id} refunded: {title}"),
    "order_shipped_buyer": OrderEmail("Order #{id} is on its way: {title}"),
    "order_dispute_lost_buyer": OrderEmail(
        "Your bank decided the dispute on order #{id} for you: {title}"
    ),
    "order_dispute_won_buyer": OrderEmail(
        "Your bank closed the dispute on order #{id}, the payment stands: {title}"
    ),
    "order_dispute_lost_seller": OrderEmail(
        "Dispute lost on sale #{id}, the payment went back to the buyer: {title}", to_seller=True
    ),
    "order_dispute_won_seller": OrderEmail(
        "Dispute won on sale #{id}, the payment stands: {title}", to_seller=True
    ),
    # Orders the seller accepts before the card is charged (buyers/services/onsite.py).
    "order_awaiting_seller_buyer": OrderEmail(
        "Order #{id} is waiting for the seller to accept it: {title}"
    ),
    "order_to_accept_seller": OrderEmail(
        "New order #{id} to accept or decline: {title}", to_seller=True
    ),
    "order_accepted_buyer": OrderEmail("The seller accepted order #{id}: {title}"),
    "order_declined_buyer": OrderEmail(
        "The seller declined order #{id}; nothing was charged: {title}"
    ),
    "order_not_accepted_buyer": OrderEmail(
        "Order #{id} was canceled; nothing was charged: {title}"
    ),
    "order_not_accepted_seller": OrderEmail(
        "Order #{id} was canceled: it was not accepted in time: {title}", to_seller=True
    ),
}


def send_order_email(*, order_id: int, kind: str) -> None:
    """Render and send the ``kind`` email of an order to its buyer or its seller."""
    spec = EMAILS[kind]
    order = Order.objects.select_related("buyer", "seller__user", "listing").get(pk=order_id)
    if spec.to_seller:
        recipient = order.seller.user.email
        page = reverse("buyers:sale_detail", args=[order.pk])
    else:
        recipient = order.buyer_email or order.buyer.email
        page = reverse("buyers:order_detail", args=[order.pk])
    if not recipient:
        return
    context = {
        "order": order,
        "order_url": settings.SITE_URL + page,
        "site_url": settings.SITE_URL,
        "recover_from_seller": settings.MARKETPLACE_DISPUTE_RECOVER_FROM_SELLER,
    }
    subject = spec.subject
    if spec.partial_subject and 0 < order.refunded_amount < order.amount:
        subject = spec.partial_subject
    message = EmailMultiAlternatives(
        subject=subject.format(
            id=order.pk,
            title=order.title,
            refunded=Money(order.refunded_amount, order.currency),
        ),
        body=render_to_string(f"buyers/email/{kind}.txt", context),
        to=[recipient],
    )
    message.attach_alternative(render_to_string(f"buyers/email/{kind}.html", context), "text/html")
    message.send()
