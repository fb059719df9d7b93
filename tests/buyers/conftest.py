from __future__ import annotations

import pytest

from tests.buyers.factories import ListingFactory, SellerFactory
from tests.factories import UserFactory


@pytest.fixture
def buyer(db):
    return UserFactory(email="buyer@example.com")


@pytest.fixture
def seller(db):
    return SellerFactory(user=UserFactory(email="seller@example.com"), display_name="Pottery Co")


@pytest.fixture
def listing(seller):
    return ListingFactory(seller=seller, title="Blue mug", price_amount=2500, stock=3)


@pytest.fixture(autouse=True)
def _tasks_in_process():
    """Run the buyers' Celery tasks (emails) in-process even when REDIS_URL configures a broker;
    the real-worker path is covered by the events tests."""
    from marketplace.celery import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous
