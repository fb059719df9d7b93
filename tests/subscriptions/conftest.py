"""Subscriptions against the sandbox (the offline Stripe) and the real event pipeline: signed
webhooks to /stripe/webhook/, delivered inline as the sandbox commits."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from django.urls import reverse

from marketplace.money import Money
from subscriptions import services
from subscriptions.models import Plan
from tests.buyers.factories import ListingFactory, SellerFactory
from tests.buyers.sandbox_support import onboarded_account
from tests.buyers.test_sandbox_payments import sandbox  # noqa: F401
from tests.factories import UserFactory


@pytest.fixture
def seller(sandbox):  # noqa: F811
    return SellerFactory(
        stripe_account_id=onboarded_account(), user=UserFactory(email="seller@example.com")
    )


@pytest.fixture
def listing(seller):
    return ListingFactory(seller=seller, title="Lesson club", price_amount=1000, stock=None)


def make_plan(seller, listing, **fields) -> Plan:
    data = {"name": "Monthly", "amount": 1000, "interval": "month", "trial_days": 0}
    data.update(fields)
    return services.plan_create(
        seller=seller, listing_id=listing.pk, data=services.PlanInput(**data)
    )


@pytest.fixture
def monthly(seller, listing):
    return make_plan(seller, listing)


@pytest.fixture
def buyer():
    return UserFactory(email="buyer@example.com")


@pytest.fixture
def buyer_client(client, buyer):
    client.force_login(buyer)
    return client


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def subscribe(client, plan, card="4242 4242 4242 4242", email="buyer@example.com"):
    """Click Subscribe, then pay on the sandbox's hosted Checkout page."""
    response = client.post(reverse("subscriptions:subscribe", args=[plan.pk]))
    assert response.status_code == 303, response.content[:500]
    checkout = path_of(response["Location"])
    assert "/sandbox/checkout/cs_" in checkout, checkout
    page = client.get(checkout)
    assert page.status_code == 200
    return client.post(
        checkout,
        {"email": email, "card_number": card, "expiry": "12 / 34", "cvc": "123", "name": "Ada"},
    )


def eur(amount: int) -> Money:
    return Money(amount, "eur")
