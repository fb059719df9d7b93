"""Rows the benchmarks need, made with the models and the sandbox directly (the benchmarks do not
import the test suite)."""

from __future__ import annotations

import itertools
from typing import Any

_numbers = itertools.count(1)


def new_user() -> Any:
    """A fresh user with a verified email address (as after sign-up)."""
    from allauth.account.models import EmailAddress
    from django.contrib.auth import get_user_model

    n = next(_numbers)
    user = get_user_model().objects.create_user(
        username=f"bench{n}", email=f"bench{n}@example.com", password=None
    )
    EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
    return user


def new_seller(*, user: Any) -> Any:
    """An onboarded seller (its connected account can take payments) for ``user``."""
    from sellers.models import Seller

    n = next(_numbers)
    return Seller.objects.create(
        user=user,
        display_name=f"Bench shop {n}",
        slug=f"bench-shop-{n}",
        country="FR",
        default_currency="eur",
        stripe_account_id=f"acct_bench_{n:06d}",
        charges_enabled=True,
        payouts_enabled=True,
        details_submitted=True,
    )


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
