from __future__ import annotations

from tests.factories import StaffFactory, UserFactory
from tests.sellers.factories import CategoryFactory, SellerFactory

__all__ = ["CategoryFactory", "SellerFactory", "StaffFactory", "UserFactory"]
