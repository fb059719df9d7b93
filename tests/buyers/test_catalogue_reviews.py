"""Reviews on the catalogue's cards and the listing page's cached reviews block: what a visitor
reads follows a review added, replied to or hidden at once, although both are cached."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from buyers.aftersale.models import Review
from buyers.models import Order, Purchase
from tests.buyers.factories import ListingFactory
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def review(listing, rating: int, body: str = "Nice.") -> Review:
    buyer = UserFactory()
    now = timezone.now()
    common = {
        "buyer": buyer,
        "currency": listing.currency,
        "amount": listing.price_amount,
        "application_fee_amount": 0,
        "buyer_email": buyer.email,
        "expires_at": now,
    }
    purchase = Purchase.objects.create(
        charge_type=Purchase.ChargeType.DESTINATION, status=Purchase.Status.PAID, **common
    )
    order = Order.objects.create(
        purchase=purchase,
        seller=listing.seller,
        listing=listing,
        title=listing.title,
        unit_amount=listing.price_amount,
        quantity=1,
        status=Order.Status.FULFILLED,
        **common,
    )
    return Review.objects.create(
        order=order, buyer=buyer, seller=listing.seller, listing=listing, rating=rating, body=body
    )


def card_of(client, title: str) -> str:
    page = client.get("/").content.decode()
    start = page.index(f">{title}</a></h3>")
    return page[start : page.index("</article>", start)]


def test_card_shows_rating_and_follows_new_and_hidden_reviews(client, listing):
    assert "review" not in card_of(client, "Blue mug")  # no reviews: nothing shown
    review(listing, 5)
    first = review(listing, 4)
    card = card_of(client, "Blue mug")  # cached now
    assert "4.5" in card and "(2 reviews)" in card
    review(listing, 1)
    card = card_of(client, "Blue mug")
    assert "3.3" in card and "(3 reviews)" in card
    first.hidden_at = timezone.now()
    first.save(update_fields=["hidden_at"])
    card = card_of(client, "Blue mug")
    assert "3.0" in card and "(2 reviews)" in card


def test_card_counts_only_its_own_listings_reviews(client, listing, seller):
    other = ListingFactory(seller=seller, title="Green bowl", price_amount=1000)
    review(other, 2)
    assert "review" not in card_of(client, "Blue mug")
    assert "(1 review)" in card_of(client, "Green bowl")


def test_listing_page_reviews_cached_yet_current(client, listing):
    url = f"/listing/{listing.pk}/"
    reviews = [review(listing, 4, f"Review number {i}.") for i in range(25)]
    client.get(url)  # the reviews block is cached now
    with CaptureQueriesContext(connection) as ctx:
        page = client.get(url).content.decode()
    # The listing (with its subscription flag), its pictures, the reviews' rating: no query
    # per review, and the reviews themselves not read again.
    assert len(ctx.captured_queries) == 3, [q["sql"][:80] for q in ctx.captured_queries]
    assert "Review number 24." in page and "25 reviews" in page
    assert "Review number 4." not in page  # the latest 20 only
    newest = reviews[-1]
    newest.reply, newest.replied_at = "Thank you kindly!", timezone.now()
    newest.save(update_fields=["reply", "replied_at"])
    assert "Thank you kindly!" in client.get(url).content.decode()
    newest.hidden_at = timezone.now()
    newest.save(update_fields=["hidden_at"])
    page = client.get(url).content.decode()
    assert "Review number 24." not in page and "24 reviews" in page
