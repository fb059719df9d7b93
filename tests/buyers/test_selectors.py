from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from buyers import selectors
from buyers.selectors import CatalogueQuery, catalogue_page, decode_cursor
from sellers.models import Listing, Seller
from tests.buyers.factories import CategoryFactory, ListingFactory, SellerFactory

pytestmark = pytest.mark.django_db


def titles(page):
    return [listing.title for listing in page.listings]


def test_purchasable_listings_excludes_each_reason(seller):
    ok = ListingFactory(seller=seller, title="ok")
    ListingFactory(seller=seller, title="unlimited", stock=None)
    ListingFactory(seller=seller, title="draft", status=Listing.Status.DRAFT)
    ListingFactory(seller=seller, title="paused", status=Listing.Status.PAUSED)
    ListingFactory(seller=seller, title="sold out", stock=2, sold=1, reserved=1)
    ListingFactory(seller=SellerFactory(charges_enabled=False), title="no charges")
    ListingFactory(seller=SellerFactory(status=Seller.Status.SUSPENDED), title="suspended")
    ListingFactory(seller=SellerFactory(stripe_account_id=None), title="no account")
    names = set(selectors.purchasable_listings().values_list("title", flat=True))
    assert names == {"ok", "unlimited"}
    assert selectors.listing_unavailable_reason(ok) is None


def test_unavailable_reasons_are_specific(seller):
    listing = ListingFactory(seller=seller, stock=2, sold=1)
    assert selectors.listing_unavailable_reason(listing, quantity=2) == "Only 1 left in stock."
    listing.sold = 2
    assert selectors.listing_unavailable_reason(listing) == "Sold out."
    listing.sold, listing.status = 0, Listing.Status.PAUSED
    assert "Paused" in selectors.listing_unavailable_reason(listing)
    listing.status = Listing.Status.PUBLISHED
    seller.charges_enabled = False
    assert selectors.listing_unavailable_reason(listing) == "Temporarily unavailable"


def test_search_filters_and_price_range_in_major_units(seller):
    mugs = CategoryFactory(name="Mugs", slug="mugs")
    other_seller = SellerFactory(slug="other")
    ListingFactory(seller=seller, title="Blue mug", category=mugs, price_amount=1500)
    ListingFactory(seller=seller, title="Red bowl", description="fits a mug", price_amount=3000)
    ListingFactory(seller=other_seller, title="Green mug", category=mugs, price_amount=4500)
    ListingFactory(seller=seller, title="Draft mug", status=Listing.Status.DRAFT)

    def search(**kwargs):
        return set(titles(catalogue_page(query=CatalogueQuery(**kwargs))))

    assert search(q="mug") == {"Blue mug", "Red bowl", "Green mug"}
    assert search(q="MUG blue") == {"Blue mug"}
    assert search(category="mugs") == {"Blue mug", "Green mug"}
    assert search(seller="other") == {"Green mug"}
    assert search(min_price=Decimal("15"), max_price=Decimal("30.00")) == {"Blue mug", "Red bowl"}
    assert search(min_price=Decimal("15.01")) == {"Red bowl", "Green mug"}
    assert search(q="nothing like this") == set()


def test_jpy_price_range_uses_the_currency_exponent(seller, settings):
    settings.MARKETPLACE_CURRENCIES = ["eur", "jpy"]
    ListingFactory(seller=seller, title="yen", currency="jpy", price_amount=1500)
    ListingFactory(seller=seller, title="euro", currency="eur", price_amount=1500)
    page = catalogue_page(query=CatalogueQuery(min_price=Decimal("1000")))
    assert titles(page) == ["yen"]  # ¥1,500 >= 1000; €15.00 is not


@pytest.mark.parametrize("sort", ["newest", "price_asc", "price_desc"])
def test_keyset_pagination_walks_every_listing_once_in_order(seller, sort):
    now = timezone.now()
    for i in range(23):
        listing = ListingFactory(
            seller=seller, title=f"item {i:02d}", price_amount=100 * (i % 4 + 1)
        )
        # Equal timestamps and equal prices: the id breaks ties.
        Listing.objects.filter(pk=listing.pk).update(created_at=now - timedelta(minutes=i // 3))
    seen = []
    cursor = ""
    pages = 0
    while True:
        page = catalogue_page(query=CatalogueQuery(sort=sort, cursor=cursor), page_size=5)
        seen.extend(page.listings)
        pages += 1
        if not page.next_cursor:
            break
        cursor = page.next_cursor
    assert pages == 5 and len(seen) == 23 and len({x.pk for x in seen}) == 23
    expected = list(
        Listing.objects.order_by(
            *{
                "newest": ["-created_at", "-id"],
                "price_asc": ["price_amount", "id"],
                "price_desc": ["-price_amount", "-id"],
            }[sort]
        ).values_list("pk", flat=True)
    )
    assert [x.pk for x in seen] == expected


def test_pagination_sql_has_no_offset(seller):
    for _ in range(3):
        ListingFactory(seller=seller)
    first = catalogue_page(query=CatalogueQuery(), page_size=1)
    with CaptureQueriesContext(connection) as ctx:
        catalogue_page(query=CatalogueQuery(cursor=first.next_cursor), page_size=1)
    assert len(ctx.captured_queries) == 1
    assert "OFFSET" not in ctx.captured_queries[0]["sql"].upper()


@pytest.mark.parametrize("cursor", ["garbage", "!!!", "MTIzfGFiYw", "bm93fDE", "LTF8MQ"])
def test_malformed_cursor_shows_first_page(seller, cursor):
    ListingFactory(seller=seller)
    assert decode_cursor("price_asc", cursor) is None
    page = catalogue_page(query=CatalogueQuery(sort="price_asc", cursor=cursor))
    assert page.is_first and len(page.listings) == 1


def test_catalogue_shows_unavailable_listings_but_hides_closed_shops(seller):
    ListingFactory(seller=seller, title="gone", stock=1, sold=1)
    ListingFactory(seller=SellerFactory(charges_enabled=False), title="restricted")
    ListingFactory(seller=SellerFactory(status=Seller.Status.SUSPENDED), title="suspended")
    ListingFactory(seller=SellerFactory(stripe_account_id=None), title="not onboarded")
    assert set(titles(catalogue_page(query=CatalogueQuery()))) == {"gone", "restricted"}
