"""Seller pages in headless Chromium against a live server."""

from __future__ import annotations

import re

import pytest
from django.utils import timezone

from sellers.models import Listing
from tests.factories import PASSWORD
from tests.sellers.conftest import image_upload
from tests.sellers.factories import SellerFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _plain_static_names(settings):
    # The live server serves static files through the finders, which know no hashed manifest
    # names: without this, htmx and the stylesheet 404 and nothing dynamic happens.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


def log_in(page, live_server, email):
    page.goto(live_server.url + "/accounts/login/")
    page.fill("input[name=login]", email)
    page.fill("input[name=password]", PASSWORD)
    page.locator("form button[type=submit]").last.click()
    page.wait_for_url(re.compile(r".*/$"))


def test_fee_preview_updates_while_typing_and_listing_publishes(
    page, live_server, fake_stripe, tmp_path
):
    seller = SellerFactory(account_refreshed_at=timezone.now())
    log_in(page, live_server, seller.user.email)
    page.get_by_role("link", name="My shop").click()
    page.get_by_role("link", name="New listing").click()
    page.fill("input[name=title]", "Speckled mug")
    page.fill("textarea[name=description]", "Wheel-thrown.")
    page.locator("input[name=price]").press_sequentially("100")
    # htmx swaps in the quote after the 300 ms debounce: default fee 10 % + €0.30.
    preview = page.locator("#fee-preview")
    preview.get_by_text("Buyer pays").wait_for()
    assert "€89.70" in preview.inner_text() and "€10.30" in preview.inner_text()
    page.locator("input[name=price]").fill("")
    page.locator("input[name=price]").press_sequentially("0")
    page.locator("#fee-preview").get_by_text("more than zero").wait_for()
    page.locator("input[name=price]").fill("24.50")
    page.fill("input[name=stock]", "4")
    photo = tmp_path / "mug.jpg"
    photo.write_bytes(image_upload().read())
    page.set_input_files("input[name=images]", str(photo))
    page.get_by_role("button", name="Save and publish").click()
    page.wait_for_url(live_server.url + "/sell/")
    assert "is on sale" in page.content()
    listing = Listing.objects.get()
    assert listing.status == Listing.Status.PUBLISHED and listing.price_amount == 2450
    assert listing.images.count() == 1
    row = page.locator(f"#listing-{listing.pk}")
    assert "on sale" in row.inner_text() and "€24.50" in row.inner_text()
