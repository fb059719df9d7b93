"""The listing page's reads, their SQL compiled once (marketplace/compiled_sql.py): the listing
(with its seller, category and subscription flag) and its pictures are exactly what the ORM
reads, for every state a listing or its seller can be in, and a change shows at once."""

from __future__ import annotations

import pytest
from django.core.files.storage import default_storage
from django.db import connection
from django.test.utils import CaptureQueriesContext

from buyers import selectors
from sellers.models import Listing, ListingImage, Seller
from tests.buyers.factories import CategoryFactory, ListingFactory, SellerFactory
from tests.subscriptions.conftest import make_plan

pytestmark = pytest.mark.django_db


def _state(obj):
    return {k: v for k, v in vars(obj).items() if k != "_state"}


def _orm_listing(listing_id: int):
    return selectors._listing_for_buyer(listing_id).first()


def _same(ours, orm) -> None:
    if orm is None:
        assert ours is None
        return
    assert type(ours) is Listing and _state(ours) == _state(orm)
    assert ours._state.db == orm._state.db and ours._state.adding is False
    with CaptureQueriesContext(connection) as ctx:  # read with the listing, as select_related
        seller, category = ours.seller, ours.category
    assert ctx.captured_queries == []
    assert _state(seller) == _state(orm.seller)
    assert (category is None and orm.category is None) or _state(category) == _state(orm.category)


def test_the_listing_is_the_orms_in_every_state(seller):
    mugs = CategoryFactory(name="Mugs", slug="mugs")
    listings = [
        ListingFactory(seller=seller, category=mugs),
        ListingFactory(seller=seller, category=None, stock=None),
        ListingFactory(seller=seller, status=Listing.Status.PAUSED),
        ListingFactory(seller=seller, status=Listing.Status.DRAFT),
        ListingFactory(seller=seller, status=Listing.Status.DELETED),
        ListingFactory(seller=SellerFactory(charges_enabled=False)),
        ListingFactory(seller=SellerFactory(status=Seller.Status.SUSPENDED)),
        ListingFactory(seller=SellerFactory(status=Seller.Status.DISCONNECTED)),
        ListingFactory(seller=SellerFactory(stripe_account_id=None)),
    ]
    subscription = ListingFactory(seller=seller)
    make_plan(seller, subscription)
    for listing in [*listings, subscription]:
        with CaptureQueriesContext(connection) as ctx:
            ours = selectors.listing_for_buyer(listing_id=listing.pk)
        assert len(ctx.captured_queries) == 1
        _same(ours, _orm_listing(listing.pk))
    assert selectors.listing_for_buyer(listing_id=subscription.pk).is_subscription is True
    assert selectors.listing_for_buyer(listing_id=listings[0].pk).is_subscription is False
    assert selectors.listing_for_buyer(listing_id=listings[3].pk) is None  # a draft
    assert selectors.listing_for_buyer(listing_id=listings[7].pk) is None  # disconnected
    assert selectors.listing_for_buyer(listing_id=listings[-1].pk + 1000) is None
    assert selectors._LISTING_FOR_BUYER._compiled != {}
    assert None not in selectors._LISTING_FOR_BUYER._compiled.values()


def test_a_change_to_the_listing_or_its_seller_shows_at_once(listing):
    assert selectors.listing_for_buyer(listing_id=listing.pk).price_amount == 2500
    Listing.objects.filter(pk=listing.pk).update(price_amount=1999, sold=3)
    ours = selectors.listing_for_buyer(listing_id=listing.pk)
    assert ours.price_amount == 1999 and ours.available == 0
    Seller.objects.filter(pk=listing.seller_id).update(charges_enabled=False)
    assert selectors.listing_for_buyer(listing_id=listing.pk).seller.can_sell is False
    Listing.objects.filter(pk=listing.pk).update(status=Listing.Status.DRAFT)
    assert selectors.listing_for_buyer(listing_id=listing.pk) is None


@pytest.mark.parametrize("listing_id", [2**63, 2**70, -(2**63) - 1])
def test_an_id_no_column_can_hold_is_left_to_the_orm(listing_id):
    assert selectors.listing_for_buyer(listing_id=listing_id) is None


def test_an_id_beyond_any_listing_is_a_404(client):
    assert client.get(f"/listing/{2**64}/").status_code == 404


def test_pictures_are_the_orms_in_order_and_follow_changes(listing):
    assert selectors.listing_pictures(listing=listing) == []
    for name, position in (("b.jpg", 1), ("a.jpg", 0), ("c.jpg", 1)):
        ListingImage.objects.create(listing=listing, image=f"listings/{name}", position=position)
    other = ListingFactory(seller=listing.seller)
    ListingImage.objects.create(listing=other, image="listings/other.jpg")
    with CaptureQueriesContext(connection) as ctx:
        urls = selectors.listing_pictures(listing=listing)
    assert len(ctx.captured_queries) == 1
    orm = ListingImage.objects.filter(listing=listing).values_list("image", flat=True)
    assert [u.rsplit("/", 1)[-1] for u in urls] == ["a.jpg", "b.jpg", "c.jpg"]
    assert urls == [default_storage.url(name) for name in orm]
    ListingImage.objects.filter(listing=listing, image="listings/a.jpg").delete()
    assert [u.rsplit("/", 1)[-1] for u in selectors.listing_pictures(listing=listing)] == [
        "b.jpg",
        "c.jpg",
    ]
    assert selectors.listing_pictures(listing=other)[0].endswith("listings/other.jpg")
    assert None not in selectors._PICTURES._compiled.values()


def test_instances_it_cannot_build_are_the_orms_in_one_query(listing):
    """``first`` builds whole models one select_related level down; deeper, the ORM does."""
    from marketplace.compiled_sql import ByValue

    image = ListingImage.objects.create(listing=listing, image="listings/a.jpg")

    def deep(listing_id):
        return ListingImage.objects.filter(listing=listing_id).select_related("listing__seller")[:1]

    reads = ByValue(deep, ListingImage, "listing")
    with CaptureQueriesContext(connection) as ctx:
        ours = reads.first(listing.pk)
    assert len(ctx.captured_queries) == 1
    assert ours == image and ours.listing.seller == listing.seller
    assert [c.models for c in reads._compiled.values()] == [False]
    with CaptureQueriesContext(connection) as ctx:
        assert reads.first(listing.pk) == image
    assert len(ctx.captured_queries) == 1
