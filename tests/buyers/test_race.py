"""The last unit: two buyers at the same instant on PostgreSQL get exactly one reservation."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections

from buyers import services
from buyers.models import Order
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


@pytest.mark.parametrize("round_", range(5))
def test_two_buyers_one_last_unit(round_):
    listing = ListingFactory(seller=SellerFactory(), stock=1)
    buyers = [UserFactory(), UserFactory()]
    barrier = threading.Barrier(2)
    results: list[object] = []

    def attempt(user):
        try:
            barrier.wait(timeout=10)
            results.append(services.order_create(buyer=user, listing_id=listing.pk, quantity=1))
        except UserFacingError as exc:
            results.append(exc.message)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=attempt, args=(user,)) for user in buyers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    orders = [r for r in results if isinstance(r, Order)]
    refusals = [r for r in results if isinstance(r, str)]
    assert len(orders) == 1 and len(refusals) == 1, results
    assert "sold out" in refusals[0].lower()
    listing.refresh_from_db()
    assert (listing.stock, listing.reserved, listing.sold) == (1, 1, 0)
    assert Order.objects.count() == 1


def test_many_buyers_never_oversell():
    listing = ListingFactory(seller=SellerFactory(), stock=3)
    users = [UserFactory() for _ in range(8)]
    barrier = threading.Barrier(len(users))
    won: list[int] = []

    def attempt(user):
        try:
            barrier.wait(timeout=10)
            order = services.order_create(buyer=user, listing_id=listing.pk, quantity=1)
            won.append(order.pk)
        except UserFacingError:
            pass
        finally:
            connections.close_all()

    threads = [threading.Thread(target=attempt, args=(user,)) for user in users]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    listing.refresh_from_db()
    assert len(won) == 3 and listing.reserved == 3
