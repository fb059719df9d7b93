"""The catalogue's SQL, compiled once per shape of query (buyers/selectors.py): the text and the
parameters are exactly the ORM's for every filter, sort and page, the rows are the ORM's, and
what is cached is SQL only, so a change to a listing, its seller or its category shows on the
next page."""

from __future__ import annotations

import itertools
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from buyers import selectors
from buyers.aftersale.models import Review
from buyers.selectors import (
    CardListing,
    CatalogueQuery,
    catalogue_page,
    catalogue_queryset,
    catalogue_rows,
)
from sellers.models import Listing, ListingImage, Seller
from tests.buyers.factories import CategoryFactory, ListingFactory, SellerFactory
from tests.buyers.test_catalogue_reviews import review

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_compiled_shapes():
    selectors._COMPILED.clear()
    yield
    selectors._COMPILED.clear()


def _cursor(sort: str, created_at, price: int, pk: int) -> str:
    class Row:
        pass

    row = Row()
    row.created_at, row.price_amount, row.pk = created_at, price, pk
    return selectors.encode_cursor(sort, row)


def _queries(when):
    """Every combination of filters, sorts and cursors (values meant to need escaping too)."""
    for q, category, seller, low, high, sort, deep in itertools.product(
        ["", "mug", "50%_off C:\\glaze blue mug"],
        ["", "mugs"],
        ["", "other"],
        [None, Decimal("15.005")],
        [None, Decimal("30")],
        [*selectors.SORTS, "bogus"],
        [False, True],
    ):
        cursor = _cursor(sort if sort in selectors.SORTS else "newest", when, 2000, 7)
        yield CatalogueQuery(
            q=q,
            category=category,
            seller=seller,
            min_price=low,
            max_price=high,
            sort=sort,
            cursor=cursor if deep else "",
        )


@pytest.mark.parametrize("shop", [False, True])
def test_compiled_sql_and_parameters_are_the_orms(seller, shop):
    when = timezone.now()
    shop_id = seller.pk if shop else None
    shapes = 0
    for query in _queries(when):
        for page_size in (24, 5):
            qs, _, _ = catalogue_queryset(query=query, shop_id=shop_id, page_size=page_size)
            sql, params = qs.query.sql_with_params()
            before = len(selectors._COMPILED)
            catalogue_rows(query=query, shop_id=shop_id, page_size=page_size)
            if len(selectors._COMPILED) > before:
                shapes += 1
            sort = query.sort if query.sort in selectors.SORTS else selectors.DEFAULT_SORT
            position = selectors.decode_cursor(sort, query.cursor)
            mine = selectors._page_params(query, shop_id, position, sort, connection)
            compiled = [c for c in selectors._COMPILED.values() if c is not None and c.sql == sql]
            assert len(compiled) == 1, query  # this shape is served by its compiled SQL
            ours = (*compiled[0].constants, *mine)
            assert [(type(p), p) for p in ours] == [(type(p), p) for p in params], query
    # 3 word counts x 2^4 filters x 3 sorts x 2 depths x 2 page sizes ("bogus" is newest)
    assert shapes == 3 * 16 * 3 * 2 * 2
    assert None not in selectors._COMPILED.values()


def test_every_page_has_the_orms_rows(seller):
    mugs = CategoryFactory(name="Mugs", slug="mugs")
    other = SellerFactory(slug="other")
    now = timezone.now()
    for i in range(14):
        listing = ListingFactory(
            seller=other if i % 3 == 0 else seller,
            title=f"{'Blue mug' if i % 2 else 'Bowl'} {i} 50%_off",
            description="C:\\glaze" if i % 4 == 0 else "plain",
            category=mugs if i % 2 else None,
            price_amount=1000 * (i % 5 + 1),
            currency="usd" if i == 5 else "eur",
            stock=None if i % 4 == 1 else 5,
        )
        Listing.objects.filter(pk=listing.pk).update(created_at=now - timedelta(hours=i // 2))
        if i % 3 == 1:
            ListingImage.objects.create(listing=listing, image=f"listings/{i}.jpg")
    reviewed = Listing.objects.order_by("pk")
    review(reviewed[0], 5)
    review(reviewed[0], 4)
    review(reviewed[1], 2)
    Review.objects.filter(pk=review(reviewed[1], 1).pk).update(hidden_at=now)
    for shop_id in (None, seller.pk):
        for query in _queries(now):
            query = CatalogueQuery(**{**query.__dict__, "cursor": ""})
            while True:
                rows, sort, first = catalogue_rows(query=query, shop_id=shop_id, page_size=3)
                qs, orm_sort, orm_first = catalogue_queryset(
                    query=query, shop_id=shop_id, page_size=3
                )
                assert (rows, sort, first) == (list(qs), orm_sort, orm_first), query
                if len(rows) <= 3:
                    break
                cursor = selectors.encode_cursor(sort, CardListing.from_row(rows[2]))
                query = CatalogueQuery(**{**query.__dict__, "cursor": cursor})
    assert None not in selectors._COMPILED.values()


def _served_by_compiled_sql(query: CatalogueQuery, **kwargs):
    """The page for ``query``, asserting that it took one query and compiled nothing."""
    shapes = len(selectors._COMPILED)
    with CaptureQueriesContext(connection) as ctx:
        page = catalogue_page(query=query, **kwargs)
    assert len(ctx.captured_queries) == 1 and len(selectors._COMPILED) == shapes
    return {listing.title: listing for listing in page.listings}


def test_a_change_shows_on_the_next_page_although_its_sql_is_cached(seller):
    mugs = CategoryFactory(name="Mugs", slug="mugs")
    listing = ListingFactory(seller=seller, title="Blue mug", category=mugs, price_amount=2500)
    ListingFactory(seller=seller, title="Red bowl", category=mugs, price_amount=900)
    query = CatalogueQuery(category="mugs", min_price=Decimal("10"))
    assert [x.title for x in catalogue_page(query=query).listings] == ["Blue mug"]
    # Price: out of the range, then back in at a new price.
    Listing.objects.filter(pk=listing.pk).update(price_amount=999)
    assert _served_by_compiled_sql(query) == {}
    Listing.objects.filter(pk=listing.pk).update(price_amount=1999, stock=2, sold=2)
    card = _served_by_compiled_sql(query)["Blue mug"]
    assert card.price_amount == 1999 and card.available == 0  # sold out, still shown
    Listing.objects.filter(pk=listing.pk).update(sold=1)
    assert _served_by_compiled_sql(query)["Blue mug"].available == 1
    # Status: paused listings leave the catalogue, published ones come back.
    Listing.objects.filter(pk=listing.pk).update(status=Listing.Status.PAUSED)
    assert _served_by_compiled_sql(query) == {}
    Listing.objects.filter(pk=listing.pk).update(status=Listing.Status.PUBLISHED)
    # The seller's onboarding state: charges disabled shows the card as unavailable; a seller
    # without a connected account, or suspended, is not in the catalogue at all.
    Seller.objects.filter(pk=seller.pk).update(charges_enabled=False)
    assert _served_by_compiled_sql(query)["Blue mug"].seller.can_sell is False
    Seller.objects.filter(pk=seller.pk).update(charges_enabled=True)
    assert _served_by_compiled_sql(query)["Blue mug"].seller.can_sell is True
    Seller.objects.filter(pk=seller.pk).update(stripe_account_id=None)
    assert _served_by_compiled_sql(query) == {}
    Seller.objects.filter(pk=seller.pk).update(
        stripe_account_id="acct_back", status=Seller.Status.SUSPENDED
    )
    assert _served_by_compiled_sql(query) == {}
    Seller.objects.filter(pk=seller.pk).update(status=Seller.Status.ACTIVE)
    # Categories: a renamed category shows its new name; a new slug no longer matches the old.
    mugs.name = "Cups"
    mugs.save()
    assert _served_by_compiled_sql(query)["Blue mug"].category_name == "Cups"
    mugs.slug = "cups"
    mugs.save()
    assert _served_by_compiled_sql(query) == {}
    assert set(
        _served_by_compiled_sql(CatalogueQuery(category="cups", min_price=Decimal("10")))
    ) == {"Blue mug"}


def test_currencies_are_part_of_the_shape(seller, settings):
    ListingFactory(seller=seller, title="yen", currency="jpy", price_amount=1500)
    ListingFactory(seller=seller, title="euro", currency="eur", price_amount=1500)
    query = CatalogueQuery(min_price=Decimal("1000"))
    assert [x.title for x in catalogue_page(query=query).listings] == []  # no jpy: neither
    settings.MARKETPLACE_CURRENCIES = ["eur", "jpy"]
    assert [x.title for x in catalogue_page(query=query).listings] == ["yen"]
    assert len(selectors._COMPILED) == 2


@pytest.mark.parametrize("sort", ["price_asc", "price_desc", "newest"])
def test_a_cursor_beyond_the_columns_range_is_left_to_the_orm(seller, sort):
    """Django drops a comparison with an integer its column cannot hold (a forged cursor): the
    page is then the ORM's, whatever it is, and no shape is compiled for it."""
    ListingFactory(seller=seller, price_amount=100)
    cursor = _cursor(sort, timezone.now(), 10**30, 10**30)
    query = CatalogueQuery(sort=sort, cursor=cursor)
    qs, orm_sort, orm_first = catalogue_queryset(query=query)
    assert catalogue_rows(query=query) == (list(qs), orm_sort, orm_first)
    assert selectors._COMPILED == {}


def test_parameters_unlike_the_orms_leave_the_shape_to_the_orm(seller, monkeypatch, caplog):
    ListingFactory(seller=seller, title="Blue mug")
    ListingFactory(seller=seller, title="Red bowl")
    real = selectors._page_params

    def off_by_one_word(query, *args):
        return real(CatalogueQuery(**{**query.__dict__, "q": "bowl"}), *args)

    monkeypatch.setattr(selectors, "_page_params", off_by_one_word)
    page = catalogue_page(query=CatalogueQuery(q="mug"))
    assert [x.title for x in page.listings] == ["Blue mug"]  # the ORM's, not "bowl"
    assert list(selectors._COMPILED.values()) == [None]
    assert "parameters differ from the ORM's" in caplog.text
    assert [x.title for x in catalogue_page(query=CatalogueQuery(q="mug")).listings] == ["Blue mug"]
