from __future__ import annotations

import pytest

from sellers import selectors
from sellers.models import Listing, ListingImage, Seller
from tests.sellers.factories import ListingFactory, SellerFactory

pytestmark = pytest.mark.django_db


def test_purchasable_listings_only_what_a_buyer_can_pay_for():
    ok = ListingFactory(title="ok")
    unlimited = ListingFactory(title="unlimited", stock=None)
    ListingFactory(title="draft", status=Listing.Status.DRAFT)
    ListingFactory(title="paused", status=Listing.Status.PAUSED)
    ListingFactory(title="deleted", status=Listing.Status.DELETED)
    ListingFactory(title="sold out", stock=2, sold=1, reserved=1)
    ListingFactory(title="restricted", seller__charges_enabled=False)
    ListingFactory(title="suspended", seller__status=Seller.Status.SUSPENDED)
    ListingFactory(title="disconnected", seller__status=Seller.Status.DISCONNECTED)
    assert set(selectors.purchasable_listings()) == {ok, unlimited}


def test_public_listings_show_restricted_but_hide_suspended_and_disconnected():
    restricted = ListingFactory(seller__charges_enabled=False)
    sold_out = ListingFactory(stock=1, sold=1)
    ListingFactory(seller__status=Seller.Status.SUSPENDED)
    ListingFactory(seller__status=Seller.Status.DISCONNECTED)
    ListingFactory(status=Listing.Status.DRAFT)
    assert set(selectors.public_listings()) == {restricted, sold_out}


@pytest.mark.parametrize(
    ("listing_kwargs", "reason"),
    [
        ({}, None),
        ({"seller__charges_enabled": False}, "Temporarily unavailable"),
        ({"seller__status": Seller.Status.SUSPENDED}, "This shop is closed."),
        ({"status": Listing.Status.PAUSED}, "Paused by the seller."),
        ({"status": Listing.Status.DRAFT}, "Not for sale yet."),
        ({"status": Listing.Status.DELETED}, "This listing was removed by the seller."),
        ({"stock": 3, "sold": 3}, "Sold out."),
    ],
)
def test_listing_unavailable_reason(listing_kwargs, reason):
    assert selectors.listing_unavailable_reason(ListingFactory(**listing_kwargs)) == reason


def test_seller_scoped_selectors_hide_other_sellers():
    mine = SellerFactory()
    theirs = ListingFactory()
    ListingImage.objects.create(listing=theirs, image="listings/a.jpg")

    assert not selectors.seller_listings(seller=mine).filter(pk=theirs.pk).exists()
    assert not selectors.seller_listing_images(seller=mine, listing_id=theirs.pk).exists()
    assert selectors.seller_listing_images(seller=theirs.seller, listing_id=theirs.pk).count() == 1
    assert (
        selectors.seller_by_account_for_user(
            user=mine.user, account_id=theirs.seller.stripe_account_id
        )
        is None
    )
    assert (
        selectors.seller_by_account_for_user(
            user=theirs.seller.user, account_id=theirs.seller.stripe_account_id
        )
        == theirs.seller
    )
    assert list(selectors.seller_listings(seller=mine)) == []
