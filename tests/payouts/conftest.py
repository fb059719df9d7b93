from __future__ import annotations

import pytest

from tests.payouts.factories import StaffFactory


@pytest.fixture
def staff(db):
    return StaffFactory()


@pytest.fixture
def sdk(db):
    """A StripeClient on the in-process sandbox; the gateway's cached client is reset around
    the test so that it talks to the same sandbox."""
    from marketplace import stripe_gateway
    from sandbox import testing

    stripe_gateway.reset_client()
    yield testing.stripe_client()
    stripe_gateway.reset_client()
