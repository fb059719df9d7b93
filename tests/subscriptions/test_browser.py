"""Headless Chromium: subscribe from the listing through the sandbox's Checkout, see the
subscription, change plan after the proration preview; at 1280 and 375 px."""

from __future__ import annotations

import re

import pytest

from tests.buyers.test_browser import _unhashed_static, log_in, sandbox_live  # noqa: F401
from tests.factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def no_sideways_scroll(page) -> None:
    for width in (1280, 375):
        page.set_viewport_size({"width": width, "height": 900})
        extra = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert extra <= 0, f"{page.url} scrolls sideways by {extra} px at {width} px"
    page.set_viewport_size({"width": 1280, "height": 900})


def test_subscribe_see_it_and_change_plan_with_the_preview(page, live_server, sandbox_live):  # noqa: F811
    from subscriptions.models import Subscription
    from tests.buyers.factories import ListingFactory, SellerFactory
    from tests.buyers.sandbox_support import onboarded_account
    from tests.subscriptions.conftest import make_plan

    seller = SellerFactory(display_name="Lesson Co", stripe_account_id=onboarded_account())
    listing = ListingFactory(seller=seller, title="Piano club", price_amount=1000, stock=None)
    make_plan(seller, listing, name="Monthly", amount=1000)
    pro = make_plan(seller, listing, name="Pro", amount=2500)

    # Paying runs the sandbox's subscription, invoice and webhooks inline: slow on a busy machine.
    page.set_default_timeout(60_000)
    log_in(page, live_server, UserFactory(email="buyer@example.com"))
    page.goto(f"{live_server.url}/listing/{listing.pk}/")
    page.get_by_role("link", name="Subscribe: see the plans").click()
    page.wait_for_url(re.compile(r".*/subscriptions/listing/\d+/"))
    no_sideways_scroll(page)
    page.get_by_role("button", name="Subscribe to Monthly").click()
    page.wait_for_url(re.compile(r".*/sandbox/checkout/cs_.*"))
    email = page.locator("#pay-card input[name=email]")
    if email.count() and not email.input_value():
        email.fill("buyer@example.com")
    page.fill("input[name=card_number]", "4242 4242 4242 4242")
    page.fill("input[name=name]", "Ada Lovelace")
    assert page.locator("#checkout-total").inner_text() == "€10.00"  # due today, no trial
    assert page.get_by_text("per month").first.is_visible()
    page.get_by_role("button", name="Subscribe", exact=True).click()
    page.wait_for_url(re.compile(rf"{live_server.url}/subscriptions/$"))
    row = page.locator("table.subscriptions tbody tr").first
    assert row.get_by_text("Piano club").is_visible()
    assert row.get_by_text("Active").is_visible()
    assert row.get_by_text("€10.00").is_visible()
    no_sideways_scroll(page)

    row.get_by_role("link", name="Piano club").click()
    page.get_by_label("Change plan").select_option(str(pro.pk))
    page.get_by_role("button", name="See the price").click()
    page.wait_for_url(re.compile(r".*/change/\?plan=\d+"))
    preview = page.locator(".proration-preview")
    assert preview.get_by_role("button", name="Confirm the change").is_visible()
    next_amount = preview.locator(".next-invoice-amount").inner_text()
    assert next_amount.startswith("€")
    no_sideways_scroll(page)
    preview.get_by_role("button", name="Confirm the change").click()
    page.wait_for_url(re.compile(r".*/subscriptions/\d+/$"))
    assert page.get_by_text("Your plan is changed.").is_visible()
    assert page.get_by_role("heading", name=re.compile("Piano club: Pro")).is_visible()
    sub = Subscription.objects.get()
    assert sub.plan_id == pro.pk and sub.amount == 2500
    no_sideways_scroll(page)
