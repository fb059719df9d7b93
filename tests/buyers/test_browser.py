"""Headless Chromium: live filtering with htmx, then buying (the sandbox checkout page part is in
test_sandbox_checkout.py once the sandbox takes payments)."""

from __future__ import annotations

import re

import pytest

from tests.buyers.factories import CategoryFactory, ListingFactory, SellerFactory
from tests.factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _unhashed_static(settings):
    # live_server serves static files through the finders, which know no hashed names.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


def log_in(page, live_server, user):
    from django.conf import settings
    from django.test import Client

    client = Client()
    client.force_login(user)
    page.context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": live_server.url,
            }
        ]
    )


def test_live_filters_keep_the_url_and_back_works(page, live_server):
    mugs = CategoryFactory(name="Mugs", slug="mugs")
    seller = SellerFactory(display_name="Pottery Co")
    ListingFactory(seller=seller, title="Blue mug", category=mugs, price_amount=1500)
    ListingFactory(seller=seller, title="Green mug", category=mugs, price_amount=4500)
    ListingFactory(seller=seller, title="Oak bowl", price_amount=3000)

    page.goto(live_server.url + "/")
    results = page.locator("#results")
    assert results.get_by_text("Oak bowl").is_visible()

    page.fill("input[name=q]", "mug")  # no submit: htmx fires on input
    page.wait_for_function("location.search.includes('q=mug')")
    results.get_by_text("Oak bowl").wait_for(state="detached")
    assert results.get_by_text("Blue mug").is_visible()

    page.fill("input[name=max_price]", "20")
    page.locator("input[name=max_price]").dispatch_event("change")
    page.wait_for_function("location.search.includes('max_price=20')")
    results.get_by_text("Green mug").wait_for(state="detached")
    assert results.get_by_text("Blue mug").is_visible()

    # Reload: the filters come back from the URL.
    page.reload()
    assert page.locator("input[name=q]").input_value() == "mug"
    assert page.locator("#results").get_by_text("Green mug").count() == 0

    # Back: the previous filter state.
    page.go_back()
    page.wait_for_function("!location.search.includes('max_price=20')")
    page.locator("#results").get_by_text("Green mug").wait_for()


def test_buy_button_goes_to_checkout(page, live_server, fake_stripe):
    listing = ListingFactory(seller=SellerFactory(), title="Blue mug", stock=2)
    log_in(page, live_server, UserFactory())
    # The in-memory Stripe's hosted page does not exist: answer it with a stub.
    page.route(
        re.compile(r"https://checkout\.stripe\.test/.*"),
        lambda route: route.fulfill(
            status=200, body="<h1>checkout stub</h1>", content_type="text/html"
        ),
    )
    page.goto(f"{live_server.url}/listing/{listing.pk}/")
    page.fill("input[name=quantity]", "2")
    page.get_by_role("button", name="Buy now").click()
    page.wait_for_url(re.compile(r"https://checkout\.stripe\.test/pay/cs_test_.*"))
    listing.refresh_from_db()
    assert listing.reserved == 2
    assert len(fake_stripe.sessions) == 1
