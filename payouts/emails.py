"""Emails of the payouts app (plain text; sent by tasks after commit)."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import mail_admins, send_mail
from django.urls import reverse

from marketplace.dates import format_datetime
from marketplace.money import Money
from payouts.models import Dispute, Payout, RefundRequest

BANK_DETAILS_PATH = "/sell/onboarding/update/"


def payout_failed(*, payout: Payout) -> None:
    """Tell the seller their payout failed, why, and where to fix their bank details; tell admins."""
    amount = Money(payout.amount, payout.currency)
    reason = payout.failure_message or payout.failure_code or "the bank refused it"
    link = f"{settings.SITE_URL}{BANK_DETAILS_PATH}"
    body = (
        f"Hello {payout.seller.display_name},\n\n"
        f"Your payout of {amount} ({payout.stripe_id}) failed: {reason}.\n"
        "The money is back in your balance and will be paid out again once your bank details "
        f"are correct. Update them here (a secure Stripe page):\n{link}\n\n"
        f"Your balance: {settings.SITE_URL}/money/balance/\n"
    )
    send_mail(
        subject=f"Your payout of {amount} failed",
        message=body,
        from_email=None,
        recipient_list=[payout.seller.user.email],
    )
    mail_admins(
        subject=f"Payout {payout.stripe_id} failed ({payout.seller.display_name})",
        message=f"{amount} to seller {payout.seller_id}: {payout.failure_code} {reason}",
    )


def payout_paid(*, payout: Payout) -> None:
    """Tell the seller a payout reached their bank."""
    amount = Money(payout.amount, payout.currency)
    arrival = f" on {payout.arrival_date:%Y-%m-%d}" if payout.arrival_date else ""
    send_mail(
        subject=f"Payout of {amount} sent to your bank",
        message=(
            f"Hello {payout.seller.display_name},\n\n"
            f"Stripe paid {amount} out to your bank account{arrival} ({payout.stripe_id}). "
            "Banks usually show it within a business day.\n\n"
            f"Your balance and payouts: {settings.SITE_URL}/money/balance/\n"
        ),
        from_email=None,
        recipient_list=[payout.seller.user.email],
    )


def staff_refunded(*, refund: RefundRequest) -> None:
    """Tell the seller the platform's staff refunded one of their sales, and what it cost them."""
    if refund.seller is None or not refund.seller.user.email:
        return
    amount = Money(refund.amount, refund.currency)
    sale = f"sale #{refund.order_id}" if refund.order_id else f"charge {refund.charge_id}"
    link = f"{settings.SITE_URL}/sales/{refund.order_id}/" if refund.order_id else ""
    invoice = None
    if not refund.order_id:
        from subscriptions.models import SubscriptionInvoice

        invoice = SubscriptionInvoice.objects.filter(charge_id=refund.charge_id).first()
    if invoice is not None:
        sale = f"subscription invoice (subscriber #{invoice.subscription_id})"
        link = settings.SITE_URL + reverse(
            "subscriptions:subscriber", args=[invoice.subscription_id]
        )
    cost = (
        "The platform paid it from its own balance: nothing was taken from yours."
        if refund.platform_covers
        else "Your share of it (the part of the sale you received) was taken back from your "
        "balance, and the platform's fee on it was refunded to you pro rata."
    )
    send_mail(
        subject=f"The platform refunded {amount} on your {sale}",
        message=(
            f"Hello {refund.seller.display_name},\n\n"
            f"The platform's team refunded {amount} to the buyer of {sale} "
            f"(reason: {refund.get_reason_display().lower()}"
            f"{': ' + refund.note if refund.note else ''}).\n{cost}\n"
            + (f"\nThe sale: {link}\n" if link else "")
        ),
        from_email=None,
        recipient_list=[refund.seller.user.email],
    )


def dispute_opened(*, dispute: Dispute) -> None:
    """Tell the seller (when known) and the admins about a new dispute and its deadline."""
    amount = Money(dispute.amount, dispute.currency)
    due = format_datetime(dispute.evidence_due_by) if dispute.evidence_due_by else "see the dispute"
    order = f"order #{dispute.order_id}" if dispute.order_id else f"charge {dispute.charge_id}"
    reason = dispute.reason or "unspecified"
    where = (
        f"{settings.SITE_URL}/sales/{dispute.order_id}/"
        if dispute.order_id
        else f"{settings.SITE_URL}/money/balance/"
    )
    if dispute.seller is not None:
        send_mail(
            subject=f"A buyer disputed {order} ({amount})",
            message=(
                f"Hello {dispute.seller.display_name},\n\n"
                f"The buyer's bank opened a dispute on {order} for {amount} (reason: {reason}).\n"
                f"Evidence is due by {due}. Open the sale and send what shows the order was "
                "delivered as described (tracking, messages, photos); the platform submits it "
                f"to the bank:\n{where}\n"
                "This address takes no replies.\n"
            ),
            from_email=None,
            recipient_list=[dispute.seller.user.email],
        )
    mail_admins(
        subject=f"Dispute {dispute.stripe_id} on {order}: evidence due {due}",
        message=(
            f"{amount}, reason {reason}. Submit evidence: "
            f"{settings.SITE_URL}/money/disputes/{dispute.pk}/"
        ),
    )
