"""Headless Chromium: live filtering with htmx, then buying on the sandbox's hosted checkout page."""

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
    page.wait_for_function("() => location.search.includes('q=mug')")
    results.get_by_text("Oak bowl").wait_for(state="detached")
    assert results.get_by_text("Blue mug").is_visible()

    page.fill("input[name=max_price]", "20")
    page.locator("input[name=max_price]").dispatch_event("change")
    page.wait_for_function("() => location.search.includes('max_price=20')")
    results.get_by_text("Green mug").wait_for(state="detached")
    assert results.get_by_text("Blue mug").is_visible()

    # Reload: the filters come back from the URL.
    page.reload()
    assert page.locator("input[name=q]").input_value() == "mug"
    assert page.locator("#results").get_by_text("Green mug").count() == 0

    # Back: the previous filter state.
    page.go_back()
    page.wait_for_function("() => !location.search.includes('max_price=20')")
    page.locator("#results").get_by_text("Green mug").wait_for()


# --- against the sandbox's hosted checkout page ------------------------------------------------


@pytest.fixture
def sandbox_live(settings, live_server):
    """The sandbox behind the gateway; its hosted pages and return URLs on the live server."""
    from marketplace import stripe_gateway
    from marketplace.events.services import webhook_endpoints_ensure_sandbox

    settings.STRIPE_SANDBOX = True
    settings.SITE_URL = live_server.url
    settings.SANDBOX_WEBHOOK_DELIVERY = "inline"
    stripe_gateway.reset_client()
    webhook_endpoints_ensure_sandbox()
    yield
    stripe_gateway.reset_client()


def sandbox_shop():
    from tests.buyers.sandbox_support import onboarded_account

    seller = SellerFactory(display_name="Pottery Co", stripe_account_id=onboarded_account())
    listing = ListingFactory(seller=seller, title="Blue mug", stock=2, price_amount=2500)
    ListingFactory(seller=seller, title="Oak bowl")
    return listing


def fill_shipping(page):
    """The hosted page's shipping address (sessions collect one by default)."""
    from tests.buyers.sandbox_support import SHIPPING_FIELDS

    form = page.locator("#pay-card")
    for name, value in SHIPPING_FIELDS.items():
        if name.endswith("country"):
            form.locator(f"select[name={name}]").select_option(value)
        else:
            form.locator(f"input[name={name}]").fill(value)


def pay_on_sandbox_page(page, card):
    page.wait_for_url(re.compile(r".*/sandbox/checkout/cs_.*"))
    assert "SANDBOX" in page.content()
    fill_shipping(page)
    page.fill("input[name=card_number]", card)
    page.fill("input[name=name]", "Ada Lovelace")
    page.get_by_role("button", name=re.compile(r"^Pay ")).click()


def test_sandbox_search_buy_with_4242_and_land_on_the_paid_order(page, live_server, sandbox_live):
    listing = sandbox_shop()
    log_in(page, live_server, UserFactory(email="buyer@example.com"))
    page.goto(live_server.url + "/")
    page.fill("input[name=q]", "blue")
    page.wait_for_function("() => location.search.includes('q=blue')")
    page.locator("#results").get_by_text("Oak bowl").wait_for(state="detached")
    page.locator("#results").get_by_role("link", name="Blue mug").click()
    page.get_by_role("button", name="Buy now").click()
    pay_on_sandbox_page(page, "4242 4242 4242 4242")
    page.wait_for_url(re.compile(rf"{live_server.url}/orders/\d+/.*"))
    assert page.locator(".order-state").get_by_text("Paid").is_visible()
    assert page.get_by_role("link", name="Payment receipt").is_visible()
    listing.refresh_from_db()
    assert (listing.reserved, listing.sold) == (0, 1)


def test_sandbox_declined_card_shows_the_error_and_keeps_stock(page, live_server, sandbox_live):
    from buyers.models import Order

    listing = sandbox_shop()
    log_in(page, live_server, UserFactory(email="buyer@example.com"))
    page.goto(f"{live_server.url}/listing/{listing.pk}/")
    page.get_by_role("button", name="Buy now").click()
    pay_on_sandbox_page(page, "4000 0000 0000 0002")
    assert "declined" in page.locator("#checkout-error").inner_text().lower()
    listing.refresh_from_db()
    assert (listing.reserved, listing.sold) == (1, 0)  # held for this buyer, nothing sold
    assert Order.objects.get().status == Order.Status.PENDING

    page.get_by_role("link", name=re.compile("Back")).click()
    page.wait_for_url(re.compile(rf"{live_server.url}/orders/\d+/"))
    assert "nothing was charged" in page.content()
    listing.refresh_from_db()
    assert (listing.reserved, listing.sold) == (0, 0)


@pytest.mark.parametrize("width", [1280, 375])
def test_sandbox_cart_of_two_sellers_paid_once(page, live_server, sandbox_live, width):
    from buyers.models import Order, Purchase
    from tests.buyers.sandbox_support import onboarded_account

    page.set_viewport_size({"width": width, "height": 900})
    # Paying runs the webhooks, the transfer job and the ledger inline: slow on a busy machine.
    page.set_default_timeout(90_000)
    mug = sandbox_shop()
    glass = SellerFactory(display_name="Glass Works", stripe_account_id=onboarded_account())
    vase = ListingFactory(seller=glass, title="Green vase", stock=2, price_amount=4000)
    log_in(page, live_server, UserFactory(email="buyer@example.com"))
    for listing in (mug, vase):
        page.goto(f"{live_server.url}/listing/{listing.pk}/")
        page.get_by_role("button", name="Add to cart").click()
        page.wait_for_url(f"{live_server.url}/cart/")
    cart = page.locator("#cart")
    assert (
        cart.get_by_role("link", name="Pottery Co").is_visible()
        and cart.get_by_role("link", name="Glass Works").is_visible()
    )
    page.fill(f"#qty-{mug.pk}", "2")
    page.locator(f"#qty-{mug.pk}").dispatch_event("change")  # htmx swaps the cart
    page.get_by_role("button", name="Pay €90.00").wait_for()
    no_sideways = "() => document.documentElement.scrollWidth <= window.innerWidth"
    assert page.evaluate(no_sideways)
    page.get_by_role("button", name="Pay €90.00").click()
    pay_on_sandbox_page(page, "4242 4242 4242 4242")
    page.wait_for_url(re.compile(rf"{live_server.url}/purchases/\d+/"))
    assert page.locator("section.purchase-order").count() == 2
    purchase = Purchase.objects.get()
    assert purchase.status == Purchase.Status.PAID
    assert set(purchase.orders.values_list("transfer_status", flat=True)) == {"paid"}
    # Each seller sees their own order and their share, not the other seller's lines.
    for order in purchase.orders.select_related("seller__user"):
        log_in(page, live_server, order.seller.user)
        page.goto(f"{live_server.url}/sales/{order.pk}/")
        other = "Green vase" if order.seller == mug.seller else "Blue mug"
        assert order.status == Order.Status.PAID and other not in page.content()
        share = page.locator("tr", has_text="Your share")
        assert str(order.seller_share) in share.inner_text()
        assert page.evaluate(no_sideways)
    # The mug seller refunds part of their order from the sale page, through the confirmation.
    mugs = purchase.orders.select_related("seller__user").get(seller=mug.seller)
    log_in(page, live_server, mugs.seller.user)
    page.goto(f"{live_server.url}/sales/{mugs.pk}/")
    page.get_by_role("link", name="Refund the buyer…").click()
    page.get_by_label("An amount").check()
    page.get_by_label("Amount to refund").fill("10.00")
    page.get_by_label("Reason").select_option("damaged")
    assert page.evaluate(no_sideways)
    page.get_by_role("button", name="Review the refund…").click()
    confirm = page.locator("section.sale-refund-confirm")
    assert "€10.00" in confirm.inner_text() and "€8.94" in confirm.inner_text()
    assert page.evaluate(no_sideways)
    page.get_by_role("button", name="Refund €10.00").click()
    page.wait_for_url(f"{live_server.url}/sales/{mugs.pk}/")
    assert "Refund of €10.00 sent to Stripe." in page.content()
    assert "€10.00" in page.locator("tr", has_text="Refunded to the buyer").inner_text()
    mugs.refresh_from_db()
    assert mugs.refunded_amount == 1000 and mugs.status == Order.Status.PAID
    vases = purchase.orders.get(seller=glass)
    assert vases.refunded_amount == 0


@pytest.mark.parametrize("width", [1280, 375])
def test_listing_page_blocks_do_not_overlap(page, live_server, width):
    """The picture stays in its column and the description starts below the buy box, whatever
    the buy box holds (a signed-in buyer's box is taller than the picture on a wide screen)."""
    seller = SellerFactory(display_name="Pottery Co")
    listing = ListingFactory(
        seller=seller,
        title="Speckled stoneware mug with a sea-green glaze and a matching saucer",
        description="Wheel-thrown.",
        stock=10,
    )
    page.set_viewport_size({"width": width, "height": 900})
    log_in(page, live_server, UserFactory(email="buyer@example.com"))
    page.goto(f"{live_server.url}/listing/{listing.pk}/")
    gallery = page.locator(".listing-gallery").bounding_box()
    picture = page.locator(".placeholder.large").bounding_box()
    info = page.locator(".listing-info").bounding_box()
    description = page.locator(".listing-description").bounding_box()
    assert picture["x"] + picture["width"] <= gallery["x"] + gallery["width"] + 0.5
    if width >= 1000:  # side by side
        assert picture["x"] + picture["width"] <= info["x"]
    assert description["y"] >= max(picture["y"] + picture["height"], info["y"] + info["height"])
