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


# The shipping address the hosted Checkout page asks for (sessions collect one by default).
SHIPPING_FIELDS = {
    "shipping-name": "Ada Lovelace",
    "shipping-line1": "12 rue des Lilas",
    "shipping-postal_code": "75011",
    "shipping-city": "Paris",
    "shipping-country": "FR",
}
