"""Emails of the payouts app (plain text; sent by tasks after commit)."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import mail_admins, send_mail

from marketplace.money import Money
from payouts.models import Payout

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
