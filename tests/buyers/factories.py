"""Buyers' factories: the sellers' ones, with listings that read like a shop's."""

from __future__ import annotations

import factory

from tests.sellers.factories import CategoryFactory, SellerFactory
from tests.sellers.factories import ListingFactory as SellersListingFactory


class ListingFactory(SellersListingFactory):
    title = factory.Sequence(lambda n: f"Handmade mug {n}")
    description = "Stoneware, glazed by hand."
    category = None


__all__ = ["CategoryFactory", "ListingFactory", "SellerFactory"]
