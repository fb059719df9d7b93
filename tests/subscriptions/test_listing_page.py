"""A subscription listing on the buying side: its page offers its plans (Subscribe), never
"Buy now" or "Add to cart" at its list price, and the buy and cart endpoints refuse it with a
message, sending nothing to Stripe."""

from __future__ import annotations

import pytest
from django.urls import reverse

from buyers.models import CartItem, Order, Purchase
from sandbox import testing
from subscriptions.models import Subscription
from tests.buyers.factories import ListingFactory
from tests.subscriptions.conftest import make_plan

pytestmark = pytest.mark.django_db


def page(client, listing) -> str:
    response = client.get(reverse("buyers:listing", args=[listing.pk]))
    assert response.status_code == 200
    return response.content.decode()


def test_subscription_listing_page_offers_plans_not_buy_now(buyer_client, seller, listing):
    monthly = make_plan(seller, listing)
    yearly = make_plan(seller, listing, name="Yearly", amount=10_000, interval="year")
    html = page(buyer_client, listing)
    assert "Buy now" not in html and "Add to cart" not in html
    assert reverse("buyers:listing_buy", args=[listing.pk]) not in html
    assert reverse("buyers:cart_add", args=[listing.pk]) not in html
    for plan in (monthly, yearly):
        assert f'action="{reverse("subscriptions:subscribe", args=[plan.pk])}"' in html
    assert "Subscribe to Monthly" in html and "Subscribe to Yearly" in html
    assert "€10.00" in html and "€100.00" in html


def test_anonymous_visitor_sees_the_plans_and_a_login_link(client, seller, listing):
    make_plan(seller, listing)
    html = page(client, listing)
    assert "Add to cart" not in html and "Monthly" in html and "to subscribe" in html


def test_an_ordinary_listing_still_offers_buy_now(buyer_client, seller):
    mug = ListingFactory(seller=seller, title="Mug", price_amount=2500, stock=3)
    html = page(buyer_client, mug)
    assert "Buy now" in html and "Add to cart" in html and "Subscribe" not in html


def test_buy_now_refuses_a_subscription_listing_and_calls_no_stripe(buyer_client, seller, listing):
    make_plan(seller, listing)
    before = len(testing.requests())
    response = buyer_client.post(
        reverse("buyers:listing_buy", args=[listing.pk]), {"quantity": 1}, follow=True
    )
    assert response.redirect_chain[0][0] == reverse("buyers:listing", args=[listing.pk])
    assert "sold by subscription" in response.content.decode()
    assert len(testing.requests()) == before  # nothing sent to Stripe
    assert not Order.objects.exists() and not Purchase.objects.exists()
    assert not Subscription.objects.exists()


@pytest.mark.parametrize("signed_in", [True, False])
def test_cart_refuses_a_subscription_listing(client, buyer, seller, listing, signed_in):
    make_plan(seller, listing)
    if signed_in:
        client.force_login(buyer)
    before = len(testing.requests())
    response = client.post(
        reverse("buyers:cart_add", args=[listing.pk]), {"quantity": 1}, follow=True
    )
    assert "sold by subscription" in response.content.decode()
    assert not CartItem.objects.exists()
    cart = client.get(reverse("buyers:cart")).content.decode()
    assert "Lesson club" not in cart
    assert len(testing.requests()) == before


def test_a_listing_made_a_subscription_after_it_was_put_in_the_cart_cannot_be_paid(
    buyer_client, buyer, seller, listing
):
    buyer_client.post(reverse("buyers:cart_add", args=[listing.pk]), {"quantity": 1})
    assert CartItem.objects.filter(buyer=buyer).count() == 1
    make_plan(seller, listing)
    cart = buyer_client.get(reverse("buyers:cart")).content.decode()
    assert "sold by subscription" in cart
    before = len(testing.requests())
    response = buyer_client.post(reverse("buyers:cart_checkout"), {"currency": "eur"}, follow=True)
    assert "sold by subscription" in response.content.decode()
    assert not Purchase.objects.exists()
    assert len(testing.requests()) == before
