"""Helpers for the buyers' tests against the real sandbox (the offline Stripe)."""

from __future__ import annotations


def onboarded_account(*, country: str = "FR", name: str = "Pottery Co") -> str:
    """A connected account in the sandbox that can take destination charges."""
    from django.db import transaction

    from marketplace import stripe_gateway
    from sandbox.resources.accounts import apply_onboarding

    account = stripe_gateway.client().v1.accounts.create(
        {
            "country": country,
            "controller": {
                "stripe_dashboard": {"type": "express"},
                "fees": {"payer": "application"},
                "losses": {"payments": "application"},
            },
            "capabilities": {
                "card_payments": {"requested": True},
                "transfers": {"requested": True},
            },
        }
    )
    with transaction.atomic():  # as the hosted onboarding form's request would be
        apply_onboarding(account.id, outcome="complete", business_name=name)
    return account.id
