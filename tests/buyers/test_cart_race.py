"""Carts racing on PostgreSQL: the last unit in two carts (one checkout wins, the other reserves
nothing of its cart), two tabs checking out the same cart (one purchase), and two carts sharing
two listings in opposite orders (no deadlock: listings are locked in id order)."""

from __future__ import annotations

import threading
import uuid

import pytest
from django.db import connection, connections

from buyers import cart as carts
from buyers.models import CartItem, Purchase
from marketplace.errors import UserFacingError
from tests.buyers.factories import ListingFactory, SellerFactory
from tests.factories import UserFactory

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="needs row locks and concurrent writers: run with DATABASE_URL=postgres://...",
    ),
]


def race(*calls):
    """Run the calls at the same instant, each on its own connection; their results or the
    message of the UserFacingError each raised."""
    barrier = threading.Barrier(len(calls))
    results: list[object] = [None] * len(calls)

    def run(i, call):
        try:
            barrier.wait(timeout=10)
            results[i] = call()
        except UserFacingError as exc:
            results[i] = exc.message
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def add(buyer, listing, quantity=1):
    carts.cart_add(user=buyer, session={}, listing_id=listing.pk, quantity=quantity)


@pytest.mark.parametrize("round_", range(3))
def test_last_unit_in_two_carts(round_):
    last = ListingFactory(seller=SellerFactory(), stock=1)
    plenty = ListingFactory(seller=SellerFactory(), stock=10)
    ann, bob = UserFactory(), UserFactory()
    for buyer in (ann, bob):
        add(buyer, last)
        add(buyer, plenty, 2)
    results = race(
        lambda: carts.cart_checkout(buyer=ann, currency="eur", client_token=None),
        lambda: carts.cart_checkout(buyer=bob, currency="eur", client_token=None),
    )
    won = [r for r in results if isinstance(r, Purchase)]
    lost = [r for r in results if isinstance(r, str)]
    assert len(won) == 1 and len(lost) == 1, results
    assert "sold out" in lost[0].lower()
    last.refresh_from_db()
    plenty.refresh_from_db()
    # The loser reserved nothing, not even the line that was there: all lines or none.
    assert (last.reserved, plenty.reserved) == (1, 2)
    loser = bob if won[0].buyer_id == ann.pk else ann
    assert CartItem.objects.filter(buyer=loser).count() == 2


def test_two_tabs_checking_out_the_same_cart():
    buyer = UserFactory()
    mug = ListingFactory(seller=SellerFactory(), stock=5)
    vase = ListingFactory(seller=SellerFactory(), stock=5)
    add(buyer, mug, 2)
    add(buyer, vase, 1)
    results = race(
        lambda: carts.cart_checkout(buyer=buyer, currency="eur", client_token=uuid.uuid4()),
        lambda: carts.cart_checkout(buyer=buyer, currency="eur", client_token=uuid.uuid4()),
    )
    assert sum(isinstance(r, Purchase) for r in results) == 1, results
    assert any(isinstance(r, str) and "another tab" in r for r in results), results
    mug.refresh_from_db()
    vase.refresh_from_db()
    assert (mug.reserved, vase.reserved) == (2, 1) and Purchase.objects.count() == 1


def test_carts_sharing_listings_do_not_deadlock():
    first = ListingFactory(seller=SellerFactory(), stock=10)
    second = ListingFactory(seller=SellerFactory(), stock=10)
    ann, bob = UserFactory(), UserFactory()
    add(ann, first)
    add(ann, second)
    add(bob, second)
    add(bob, first)
    results = race(
        lambda: carts.cart_checkout(buyer=ann, currency="eur", client_token=None),
        lambda: carts.cart_checkout(buyer=bob, currency="eur", client_token=None),
    )
    assert all(isinstance(r, Purchase) for r in results), results
    first.refresh_from_db()
    assert first.reserved == 2
