from __future__ import annotations

import factory

from sellers.models import Category, Listing, Seller
from tests.factories import UserFactory


class SellerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Seller

    user = factory.SubFactory(UserFactory)
    display_name = factory.Sequence(lambda n: f"Shop {n}")
    slug = factory.Sequence(lambda n: f"shop-{n}")
    country = "FR"
    default_currency = "eur"
    status = Seller.Status.ACTIVE
    stripe_account_id = factory.Sequence(lambda n: f"acct_test{n:08d}")
    charges_enabled = True
    payouts_enabled = True
    details_submitted = True


class CategoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Category
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Category {n}")
    slug = factory.Sequence(lambda n: f"category-{n}")


class ListingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Listing

    seller = factory.SubFactory(SellerFactory)
    title = factory.Sequence(lambda n: f"Handmade mug {n}")
    description = "Stoneware, glazed by hand."
    category = None
    price_amount = 2500
    currency = "eur"
    stock = 5
    status = Listing.Status.PUBLISHED
