from __future__ import annotations

import pytest

from tests.payouts.factories import StaffFactory


@pytest.fixture
def staff(db):
    return StaffFactory()


@pytest.fixture
def fake_stripe(monkeypatch):
    from tests.payouts.fake_stripe import FakeStripe

    return FakeStripe().install(monkeypatch)
