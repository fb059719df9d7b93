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


def hosted_checkout_stub(fake_stripe, live_server):
    """Stands in for Stripe's hosted Checkout page (the in-memory Stripe has none): a card form;
    4242… pays and returns to success_url, any other number shows a decline."""
    from urllib.parse import parse_qs

    def handle(route):
        request = route.request
        session_id = request.url.rsplit("/", 1)[-1].split("?")[0]
        session = fake_stripe.sessions[session_id]
        order_id = session["client_reference_id"]
        success = f"{live_server.url}/checkout/success/?session_id={session_id}"
        cancel = f"{live_server.url}/orders/{order_id}/checkout/canceled/"
        if request.method == "POST":
            card = parse_qs(request.post_data or "").get("card", [""])[0].replace(" ", "")
            if card == "4242424242424242":
                fake_stripe.pay(session_id)
                route.fulfill(status=303, headers={"Location": success})
                return
            error = "<p role='alert'>Your card was declined.</p>"
        else:
            error = ""
        route.fulfill(
            status=200,
            content_type="text/html",
            body=(
                f"<h1>Pay {session['amount_total'] / 100:.2f} EUR</h1>{error}"
                "<form method='post'><label>Card number <input name='card'></label>"
                "<button>Pay</button></form>"
                f"<a href='{cancel}'>Back to the shop</a>"
            ),
        )

    return handle


def test_search_buy_pay_and_land_on_the_paid_order(page, live_server, fake_stripe, mailoutbox):
    seller = SellerFactory(display_name="Pottery Co")
    listing = ListingFactory(seller=seller, title="Blue mug", stock=2, price_amount=2500)
    ListingFactory(seller=seller, title="Oak bowl")
    buyer = UserFactory(email="buyer@example.com")
    log_in(page, live_server, buyer)
    page.route(
        re.compile(r"https://checkout\.stripe\.test/.*"),
        hosted_checkout_stub(fake_stripe, live_server),
    )

    page.goto(live_server.url + "/")
    page.fill("input[name=q]", "blue")
    page.wait_for_function("location.search.includes('q=blue')")
    page.locator("#results").get_by_text("Oak bowl").wait_for(state="detached")
    page.locator("#results").get_by_role("link", name="Blue mug").click()
    page.get_by_role("button", name="Buy now").click()

    page.wait_for_url(re.compile(r"https://checkout\.stripe\.test/.*"))
    page.fill("input[name=card]", "4242 4242 4242 4242")
    page.get_by_role("button", name="Pay").click()
    page.wait_for_url(re.compile(rf"{live_server.url}/orders/\d+/.*"))
    assert page.locator(".order-state").get_by_text("Paid").is_visible()
    assert page.get_by_role("link", name="Payment receipt").is_visible()
    listing.refresh_from_db()
    assert (listing.reserved, listing.sold) == (0, 1)
    assert {m.to[0] for m in mailoutbox} == {"buyer@example.com", seller.user.email}


def test_declined_card_shows_the_error_and_keeps_the_stock(page, live_server, fake_stripe):
    from buyers.models import Order

    listing = ListingFactory(seller=SellerFactory(), title="Blue mug", stock=1)
    log_in(page, live_server, UserFactory())
    page.route(
        re.compile(r"https://checkout\.stripe\.test/.*"),
        hosted_checkout_stub(fake_stripe, live_server),
    )
    page.goto(f"{live_server.url}/listing/{listing.pk}/")
    page.get_by_role("button", name="Buy now").click()
    page.fill("input[name=card]", "4000 0000 0000 0002")
    page.get_by_role("button", name="Pay").click()
    assert page.get_by_role("alert").inner_text() == "Your card was declined."
    listing.refresh_from_db()
    assert (listing.reserved, listing.sold) == (1, 0)  # still held for this buyer

    page.get_by_role("link", name="Back to the shop").click()
    page.wait_for_url(re.compile(rf"{live_server.url}/orders/\d+/"))
    assert "nothing was charged" in page.content()
    listing.refresh_from_db()
    assert (listing.reserved, listing.sold) == (0, 0)
    assert Order.objects.get().status == Order.Status.CANCELED
