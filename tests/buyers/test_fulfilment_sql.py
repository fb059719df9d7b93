"""The purchase, its orders and their lines as the fulfilment reads them (SQL compiled once,
``buyers.services._common``) are the ORM's rows, locked; a status move writes its columns only."""

from __future__ import annotations

import uuid

import pytest
from django.db import connection
from django.forms.models import model_to_dict
from django.test.utils import CaptureQueriesContext

from buyers import cart as carts
from buyers.models import Order, OrderLine, Purchase
from buyers.services import _common
from tests.buyers.factories import ListingFactory, SellerFactory
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def purchase(buyer, listing):
    """A several-seller purchase: two orders, the first with two lines."""
    glass = SellerFactory(user=UserFactory(email="glass@example.com"), display_name="Glass")
    vase = ListingFactory(seller=glass, title="Green vase", price_amount=4000, stock=2)
    cup = ListingFactory(seller=listing.seller, title="Cup", price_amount=1000, stock=5)
    for item, quantity in ((cup, 1), (vase, 1), (listing, 2)):
        carts.cart_add(user=buyer, session={}, listing_id=item.pk, quantity=quantity)
    return carts.cart_checkout(buyer=buyer, currency="eur", client_token=uuid.uuid4())


def rows(instances):
    return [
        model_to_dict(i, fields=[f.name for f in type(i)._meta.concrete_fields]) for i in instances
    ]


def test_the_compiled_reads_are_the_orms_rows_in_the_orms_order(purchase):
    for _ in range(2):  # the first call compiles, the second runs the kept SQL
        locked = _common._locked_purchase(purchase.pk)
        assert rows([locked]) == rows([Purchase.objects.get(pk=purchase.pk)])
        orders = _common._locked_orders(purchase)
        assert len(orders) == 2
        assert rows(orders) == rows(Order.objects.filter(purchase=purchase).order_by("pk"))
        assert all(order.purchase is purchase for order in orders)
        for order in orders:
            assert rows(_common._lines_of(order)) == rows(
                OrderLine.objects.filter(order=order).order_by("listing_id")
            )
    assert len(_common._lines_of(orders[0])) == 2
    assert _common._locked_purchase(purchase.pk + 1000) is None
    assert _common._locked_orders(Purchase(pk=purchase.pk + 1000)) == []


def test_a_purchase_id_beyond_its_column_is_left_to_the_orm(purchase):
    assert _common._locked_purchase(2**70) is None


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks: PostgreSQL (CI)")
def test_the_purchase_and_its_orders_are_read_locked(purchase):
    with CaptureQueriesContext(connection) as queries:
        _common._locked_purchase(purchase.pk)
        _common._locked_orders(purchase)
    assert [q["sql"].rstrip().endswith("FOR UPDATE") for q in queries.captured_queries] == [
        True,
        True,
    ]


def test_a_status_move_writes_its_columns_and_nothing_else(purchase):
    order = _common._locked_orders(purchase)[0]
    Order.objects.filter(pk=order.pk).update(title="Renamed meanwhile")
    with CaptureQueriesContext(connection) as queries:
        _common._move(order, Order.Status.CANCELED, closed_at=order.created_at)
    (update,) = [q["sql"] for q in queries.captured_queries]
    assert update.startswith("UPDATE") and "title" not in update
    order.refresh_from_db()
    assert (order.status, order.closed_at, order.title) == (
        Order.Status.CANCELED,
        order.created_at,
        "Renamed meanwhile",
    )
    with pytest.raises(_common.InvalidTransition):
        _common._move(order, Order.Status.PENDING)
