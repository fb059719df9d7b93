"""The emails of subscriptions (plain text), rendered from templates/subscriptions/email/."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.core.mail import EmailMessage
from django.template.loader import render_to_string
from django.urls import reverse

from subscriptions.models import Subscription, SubscriptionInvoice


@dataclass(frozen=True)
class SubscriptionEmail:
    subject: str
    to_seller: bool = False
    # The seller's link goes to this subscriber's page rather than the list of subscribers.
    subscriber_page: bool = False


EMAILS: dict[str, SubscriptionEmail] = {
    "started_seller": SubscriptionEmail("New subscriber to {plan}", to_seller=True),
    "payment_failed": SubscriptionEmail("Payment failed for your subscription to {plan}"),
    "action_required": SubscriptionEmail("Confirm the payment of your subscription to {plan}"),
    "trial_will_end": SubscriptionEmail("Your free trial of {plan} ends soon"),
    "ended_buyer": SubscriptionEmail("Your subscription to {plan} has ended"),
    "ended_seller": SubscriptionEmail("A subscription to {plan} has ended", to_seller=True),
    "reactivated_buyer": SubscriptionEmail("Your subscription to {plan} is active again"),
    "reactivated_seller": SubscriptionEmail(
        "A subscription to {plan} is active again", to_seller=True
    ),
    "invoice_refunded_buyer": SubscriptionEmail("A refund on your subscription to {plan}"),
    "refund_requested_seller": SubscriptionEmail(
        "A subscriber asks for a refund: {plan}", to_seller=True, subscriber_page=True
    ),
    "refund_request_declined": SubscriptionEmail(
        "Your refund request on your subscription to {plan}"
    ),
}


def send_subscription_email(*, subscription_id: int, kind: str, invoice_id: int | None) -> None:
    spec = EMAILS[kind]
    sub = Subscription.objects.select_related("buyer", "seller__user", "plan__listing").get(
        pk=subscription_id
    )
    invoice = (
        SubscriptionInvoice.objects.filter(pk=invoice_id, subscription=sub).first()
        if invoice_id
        else None
    )
    if spec.to_seller:
        recipient = sub.seller.user.email
        page = (
            reverse("subscriptions:subscriber", args=[sub.pk])
            if spec.subscriber_page
            else reverse("subscriptions:seller")
        )
    else:
        recipient = sub.buyer.email
        page = reverse("subscriptions:detail", args=[sub.pk])
    if not recipient:
        return
    plan = f"{sub.plan.listing.title} ({sub.plan.name})"
    # Where the buyer pays an open invoice: our own page with the on-site checkout, else
    # Stripe's hosted invoice page.
    pay_url = invoice.hosted_invoice_url if invoice is not None else ""
    if not spec.to_seller and settings.CHECKOUT_UI == "elements":
        pay_url = settings.SITE_URL + reverse("subscriptions:pay", args=[sub.pk])
    context = {
        "pay_url": pay_url,
        "sub": sub,
        "plan": plan,
        "invoice": invoice,
        # The invoice's latest refund request (the refund request emails).
        "refund_request": invoice.refund_requests.first() if invoice is not None else None,
        "page_url": settings.SITE_URL + page,
        "site_name": settings.SITE_NAME,
    }
    EmailMessage(
        subject=spec.subject.format(plan=plan),
        body=render_to_string(f"subscriptions/email/{kind}.txt", context),
        to=[recipient],
    ).send()
