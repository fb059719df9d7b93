from __future__ import annotations

import pytest

from tests.buyers.factories import ListingFactory, SellerFactory
from tests.buyers.fake_stripe import GATEWAY_FUNCTIONS, FakeStripe
from tests.factories import UserFactory


@pytest.fixture
def fake_stripe(monkeypatch):
    """Replace the buyers' gateway functions with an in-memory Stripe."""
    from marketplace import stripe_gateway

    fake = FakeStripe()
    # The gateway answers with its typed values, built from the fake's SDK objects.
    typed = {
        "checkout_session_create": stripe_gateway.CheckoutSession.from_stripe,
        "checkout_session_retrieve": stripe_gateway.CheckoutSession.from_stripe,
        "checkout_session_expire": stripe_gateway.CheckoutSession.from_stripe,
        "refund_create_for_order": stripe_gateway.Movement.from_stripe,
        "transfer_create": stripe_gateway.Transfer.from_stripe,
        "transfer_find": lambda t: None if t is None else stripe_gateway.Transfer.from_stripe(t),
    }
    for name in GATEWAY_FUNCTIONS:
        method, convert = getattr(fake, name), typed[name]
        monkeypatch.setattr(
            stripe_gateway, name, lambda m=method, c=convert, **kwargs: c(m(**kwargs))
        )
    return fake


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
