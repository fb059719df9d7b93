"""Emails of the payouts app (plain text; sent by tasks after commit)."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import mail_admins, send_mail

from marketplace.dates import format_datetime
from marketplace.money import Money
from payouts.models import Dispute, Payout

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


def dispute_opened(*, dispute: Dispute) -> None:
    """Tell the seller (when known) and the admins about a new dispute and its deadline."""
    amount = Money(dispute.amount, dispute.currency)
    due = format_datetime(dispute.evidence_due_by) if dispute.evidence_due_by else "see the dispute"
    order = f"order #{dispute.order_id}" if dispute.order_id else f"charge {dispute.charge_id}"
    reason = dispute.reason or "unspecified"
    if dispute.seller is not None:
        send_mail(
            subject=f"A buyer disputed {order} ({amount})",
            message=(
                f"Hello {dispute.seller.display_name},\n\n"
                f"The buyer's bank opened a dispute on {order} for {amount} (reason: {reason}).\n"
                f"The platform answers it; evidence is due by {due}. Reply to this email with "
                "anything that shows the order was delivered as described (tracking, messages).\n"
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
