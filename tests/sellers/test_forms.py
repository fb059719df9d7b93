from __future__ import annotations

import pytest

from sellers.forms import ListingForm, StartSellingForm
from tests.sellers.conftest import image_upload
from tests.sellers.factories import ListingFactory, SellerFactory

pytestmark = pytest.mark.django_db


def test_start_selling_form_lists_supported_countries_and_currencies(settings):
    settings.MARKETPLACE_CURRENCIES = ["eur", "usd"]
    form = StartSellingForm()
    assert ("FR", "France") in form.fields["country"].choices
    assert [c for c, _ in form.fields["default_currency"].choices] == ["eur", "usd"]


def test_listing_form_parses_major_units_per_currency(settings):
    settings.MARKETPLACE_CURRENCIES = ["eur", "jpy"]
    seller = SellerFactory()
    form = ListingForm({"title": "Cup", "price": "1200", "currency": "jpy"}, seller=seller)
    assert form.is_valid(), form.errors
    assert form.cleaned_data["money"].amount == 1200
    form = ListingForm({"title": "Cup", "price": "12,5", "currency": "eur"}, seller=seller)
    assert form.is_valid() and form.cleaned_data["money"].amount == 1250
    form = ListingForm({"title": "Cup", "price": "12.5", "currency": "jpy"}, seller=seller)
    assert not form.is_valid() and "price" in form.errors
    # the example is written in the currency's own format, not "24.90"
    assert form.errors["price"] == [
        "Enter the price as a whole number (JPY has no decimals), e.g. 2490."
    ]
    form = ListingForm({"title": "Cup", "price": "12.505", "currency": "eur"}, seller=seller)
    assert form.errors["price"] == ["Enter the price as a number, e.g. 24.90."]
    assert (
        "e.g. 2490"
        in ListingForm(seller=SellerFactory(default_currency="jpy")).fields["price"].help_text
    )


def test_listing_form_defaults_to_seller_currency_and_caps_images():
    seller = SellerFactory(default_currency="usd")
    assert ListingForm(seller=seller).initial["currency"] == "usd"
    listing = ListingFactory(seller=seller)
    form = ListingForm(
        {"title": "Cup", "price": "3", "currency": "eur"},
        {"images": [image_upload(f"{i}.jpg", size=(10, 10)) for i in range(9)]},
        seller=seller,
        listing=listing,
    )
    assert not form.is_valid() and "at most 8 images" in str(form.errors["images"])
