from __future__ import annotations

import factory

from sellers.models import Category, Seller
from tests.factories import StaffFactory, UserFactory


class SellerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Seller

    user = factory.SubFactory(UserFactory)
    display_name = factory.Sequence(lambda n: f"Shop {n}")
    slug = factory.Sequence(lambda n: f"shop-{n}")
    country = "FR"
    default_currency = "eur"
    stripe_account_id = factory.Sequence(lambda n: f"acct_test{n:010d}")
    charges_enabled = True
    payouts_enabled = True
    details_submitted = True


class CategoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Category

    name = factory.Sequence(lambda n: f"Category {n}")
    slug = factory.Sequence(lambda n: f"category-{n}")


__all__ = ["CategoryFactory", "SellerFactory", "StaffFactory", "UserFactory"]
