"""Whole journeys in headless Chromium, at a desktop and a phone width, through the sandbox:
each page on the way must fit the screen (nothing scrolls sideways)."""

from __future__ import annotations

import re

import pytest

from tests.buyers.test_browser import (  # noqa: F401  (fixtures)
    _unhashed_static,
    log_in,
    pay_on_sandbox_page,
    sandbox_live,
    sandbox_shop,
)
from tests.factories import UserFactory

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("sandbox_live"),
]

WIDTHS = [1280, 375]


def fits(page) -> None:
    """Nothing on the page is wider than the window."""
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"{page.url} scrolls sideways by {overflow}px"


@pytest.mark.parametrize("width", WIDTHS)
def test_buyer_finds_buys_ships_to_an_address_and_sees_the_tracking(page, live_server, width):
    from buyers.models import Order

    page.set_viewport_size({"width": width, "height": 900})
    listing = sandbox_shop()
    buyer = UserFactory(email="buyer@example.com")
    log_in(page, live_server, buyer)
    page.goto(live_server.url + "/?q=blue")
    page.locator("#results").get_by_role("link", name="Blue mug").click()
    fits(page)
    page.get_by_role("button", name="Buy now").click()
    page.wait_for_url(re.compile(r".*/sandbox/checkout/cs_.*"))
    fits(page)
    pay_on_sandbox_page(page, "4242 4242 4242 4242")
    page.wait_for_url(re.compile(rf"{live_server.url}/orders/\d+/.*"))
    page.locator(".order-state").get_by_text("Paid").wait_for()
    fits(page)
    order = Order.objects.get()
    assert order.shipping_name == "Ada Lovelace"

    # The seller sees where to ship and gives the carrier and the tracking number.
    log_in(page, live_server, listing.seller.user)
    page.goto(f"{live_server.url}/sales/{order.pk}/")
    assert "12 rue des Lilas" in page.content() and "75011 Paris" in page.content()
    fits(page)
    page.fill("input[name=carrier]", "La Poste")
    page.fill("input[name=tracking_number]", "6A12345678901")
    page.get_by_role("button", name="Mark as shipped").click()
    page.get_by_text("Marked as shipped").wait_for()
    fits(page)

    # The buyer reads it on their order.
    log_in(page, live_server, buyer)
    page.goto(f"{live_server.url}/orders/{order.pk}/")
    assert page.locator(".tracking").inner_text() == "Tracking: La Poste 6A12345678901"
    fits(page)
    page.goto(f"{live_server.url}/orders/")
    fits(page)


@pytest.mark.parametrize("width", WIDTHS)
def test_leaving_checkout_offers_to_try_again_after_the_clock_moved(page, live_server, width):
    from sandbox import testing

    page.set_viewport_size({"width": width, "height": 900})
    testing.advance(days=1)  # purchases keep working once the sandbox's clock has moved
    listing = sandbox_shop()
    log_in(page, live_server, UserFactory(email="buyer@example.com"))
    page.goto(f"{live_server.url}/listing/{listing.pk}/")
    page.get_by_role("button", name="Buy now").click()
    page.wait_for_url(re.compile(r".*/sandbox/checkout/cs_.*"))
    page.get_by_role("link", name=re.compile("Back")).click()
    page.wait_for_url(re.compile(rf"{live_server.url}/orders/\d+/"))
    assert "nothing was charged" in page.content()
    fits(page)
    page.get_by_role("button", name=re.compile("Try again")).click()
    page.wait_for_url(re.compile(r".*/sandbox/checkout/cs_.*"))
    pay_on_sandbox_page(page, "4242 4242 4242 4242")
    page.wait_for_url(re.compile(rf"{live_server.url}/orders/\d+/.*"))
    page.locator(".order-state").get_by_text("Paid").wait_for()
    page.goto(f"{live_server.url}/orders/")
    assert "1 order not paid" in page.content()
    fits(page)
