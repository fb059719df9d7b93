from __future__ import annotations

import pytest

from tests.payouts.factories import StaffFactory


@pytest.fixture
def staff(db):
    return StaffFactory()
