from __future__ import annotations

import io

import pytest

from demo.management.commands import demo_seed
from marketplace.stripe_gateway import GatewayError
from sellers import seed
from sellers.models import Category, Listing, Seller

pytestmark = pytest.mark.django_db


def test_seeder_is_listed_in_demo_seed():
    assert seed.seed_sellers in demo_seed.SEEDERS


def test_seeder_skips_sellers_with_a_note_when_stripe_is_unavailable(fake_stripe):
    fake_stripe.fail["account_create"] = GatewayError("The Stripe sandbox is not available yet.")
    out = io.StringIO()
    seed.seed_sellers(out)
    assert "skipped onboarding seller@example.com" in out.getvalue()
    assert Category.objects.count() == len(seed.CATEGORIES)
    assert not Listing.objects.exists()


def test_seeder_makes_onboarded_sellers_with_listings_and_is_repeatable(fake_stripe, monkeypatch):
    def complete(seller):
        fake_stripe.complete(seller.stripe_account_id)
        return True

    monkeypatch.setattr(seed, "_complete_onboarding", complete)
    out = io.StringIO()
    logins = seed.seed_sellers(out)
    again = seed.seed_sellers(io.StringIO())
    assert Seller.objects.filter(charges_enabled=True).count() == 2
    assert Listing.objects.filter(status=Listing.Status.PUBLISHED).count() == 5
    assert "2 seller(s), 5 listing(s) on sale" in out.getvalue()
    assert [login.email for login in logins] == ["seller@example.com", "seller2@example.com"]
    assert again == logins  # a second run still reports both sellers' log-ins
    assert fake_stripe.count("account_create") == 2
