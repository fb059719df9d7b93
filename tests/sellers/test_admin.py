from __future__ import annotations

import pytest
from django.urls import reverse

from sellers.models import Seller
from tests.factories import StaffFactory, log_in_with_totp
from tests.sellers.factories import CategoryFactory, ListingFactory, SellerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    log_in_with_totp(client, StaffFactory())
    return client


def test_sellers_changelist_search_and_requirements(admin_client):
    SellerFactory(display_name="Ana's Ceramics", requirements_currently_due=["external_account"])
    SellerFactory(display_name="Northern Prints")
    response = admin_client.get(reverse("admin:sellers_seller_changelist") + "?q=ceramics")
    html = response.content.decode()
    assert response.status_code == 200
    assert "Ana&#x27;s Ceramics" in html and "Northern Prints" not in html


def test_seller_change_page_shows_requirements_in_words(admin_client):
    seller = SellerFactory(requirements_past_due=["individual.verification.document"])
    html = admin_client.get(
        reverse("admin:sellers_seller_change", args=[seller.pk])
    ).content.decode()
    assert "an identity document (passport or ID card)" in html


def test_suspend_and_reinstate_actions(admin_client):
    listing = ListingFactory()
    seller = listing.seller
    url = reverse("admin:sellers_seller_changelist")
    admin_client.post(url, {"action": "suspend", "_selected_action": [seller.pk]})
    seller.refresh_from_db()
    assert seller.status == Seller.Status.SUSPENDED and not seller.can_sell
    admin_client.post(url, {"action": "reinstate", "_selected_action": [seller.pk]})
    seller.refresh_from_db()
    assert seller.status == Seller.Status.ACTIVE


def test_listing_and_category_admin_pages(admin_client):
    listing = ListingFactory()
    CategoryFactory(name="Ceramics")
    assert admin_client.get(reverse("admin:sellers_listing_changelist")).status_code == 200
    assert (
        admin_client.get(reverse("admin:sellers_listing_change", args=[listing.pk])).status_code
        == 200
    )
    assert (
        "Ceramics"
        in admin_client.get(reverse("admin:sellers_category_changelist")).content.decode()
    )
