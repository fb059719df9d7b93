"""Seller pages in headless Chromium against a live server."""

from __future__ import annotations

import re

import pytest
from django.core import mail
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


def test_sign_up_onboard_through_sandbox_and_publish(page, live_server, settings, eager_tasks):
    """A new user signs up, starts selling, goes through the sandbox's hosted onboarding pages,
    comes back to a dashboard that says they can sell, and publishes a listing."""
    from marketplace import stripe_gateway
    from marketplace.events.services import webhook_endpoints_ensure_sandbox

    settings.STRIPE_SANDBOX = True
    settings.SITE_URL = live_server.url
    settings.SANDBOX_WEBHOOK_DELIVERY = "inline"
    stripe_gateway.reset_client()
    webhook_endpoints_ensure_sandbox()

    page.goto(live_server.url + "/accounts/signup/")
    page.fill("input[name=email]", "potter@example.com")
    page.fill("input[name=password1]", "a-long-browser-pass-1")
    page.fill("input[name=password2]", "a-long-browser-pass-1")
    page.locator("form button[type=submit]").last.click()
    page.wait_for_url(re.compile(r".*/accounts/confirm-email/.*"))
    link = re.search(r"https?://[^/\s]+(/accounts/confirm-email/\S+)", mail.outbox[-1].body)
    page.goto(live_server.url + link.group(1))
    page.locator("form button[type=submit]").last.click()
    page.wait_for_url(live_server.url + "/")

    page.get_by_role("link", name="Start selling").click()
    page.fill("input[name=display_name]", "Potter's Wheel")
    page.fill("input[name=slug]", "potters-wheel")
    page.select_option("select[name=country]", "FR")
    page.select_option("select[name=default_currency]", "eur")
    page.get_by_role("button", name="Continue to Stripe").click()

    # The sandbox's stand-in for Stripe's hosted onboarding.
    page.wait_for_url(re.compile(r".*/sandbox/onboarding/.*"))
    assert "SANDBOX" in page.content()
    page.fill("input[name=business_name]", "Potter's Wheel")
    page.check("input[name=outcome][value=complete]")
    page.get_by_role("button", name="Submit").click()

    page.wait_for_url(re.compile(r".*/sell/\?from=stripe$"))
    assert "Your account is ready" in page.content()
    page.get_by_role("link", name="New listing").click()
    page.fill("input[name=title]", "Stoneware bowl")
    page.locator("input[name=price]").press_sequentially("40")
    page.locator("#fee-preview").get_by_text("Buyer pays").wait_for()
    page.fill("input[name=stock]", "2")
    page.get_by_role("button", name="Save and publish").click()
    page.wait_for_url(live_server.url + "/sell/")
    listing = Listing.objects.get(title="Stoneware bowl")
    assert listing.status == Listing.Status.PUBLISHED
    assert "on sale" in page.locator(f"#listing-{listing.pk}").inner_text()
    stripe_gateway.reset_client()
