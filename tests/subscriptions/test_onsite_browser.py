"""Headless Chromium through the sandbox's Stripe.js on our own subscription page
(``CHECKOUT_UI=elements``): subscribe with 4242, start a trial, 3-D Secure in the page, a
decline then a good card, and a failed renewal paid on our page; each page checked at 1280 and
375 px (no sideways scroll). Signed webhooks are delivered inline to our endpoint; the
``page`` fixture fails on any CSP violation."""

from __future__ import annotations

import re

import pytest

from marketplace import stripe_gateway
from sandbox import testing
from subscriptions.models import Subscription, SubscriptionInvoice
from tests.buyers.factories import ListingFactory, SellerFactory
from tests.buyers.sandbox_support import onboarded_account
from tests.buyers.test_browser import _unhashed_static, log_in  # noqa: F401
from tests.buyers.test_onsite_browser import error_text, fill_card
from tests.factories import UserFactory
from tests.subscriptions.conftest import make_plan
from tests.subscriptions.test_browser import no_sideways_scroll
from tests.subscriptions.test_e2e import card_fails

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def onsite_live(settings, live_server):
    from marketplace.events.services import webhook_endpoints_ensure_sandbox

    settings.STRIPE_SANDBOX = True
    settings.SITE_URL = live_server.url
    settings.SANDBOX_WEBHOOK_DELIVERY = "inline"
    settings.CHECKOUT_UI = "elements"
    stripe_gateway.reset_client()
    webhook_endpoints_ensure_sandbox()
    yield live_server.url
    stripe_gateway.reset_client()


@pytest.fixture
def listing(onsite_live):
    seller = SellerFactory(display_name="Lesson Co", stripe_account_id=onboarded_account())
    return ListingFactory(seller=seller, title="Piano club", price_amount=1000, stock=None)


@pytest.fixture
def buyer(page, live_server, onsite_live):
    user = UserFactory(email="buyer@example.com")
    # Paying runs the sandbox's subscription, invoice and webhooks inline: slow on a busy machine.
    page.set_default_timeout(60_000)
    log_in(page, live_server, user)
    return user


def subscribe(page, site, listing, plan_name="Monthly"):
    page.goto(f"{site}/subscriptions/listing/{listing.pk}/")
    page.get_by_role("button", name=f"Subscribe to {plan_name}").click()
    page.wait_for_url(re.compile(r".*/subscriptions/\d+/pay/$"))
    page.locator("#pay-button:not([disabled])").wait_for()
    assert "SANDBOX" in page.locator("#payment-element").inner_text()
    no_sideways_scroll(page)


def lands_on_the_subscription(page, site, status):
    page.wait_for_url(re.compile(rf"{site}/subscriptions/\d+/$"))
    page.locator(".badge").get_by_text(status, exact=True).first.wait_for()


def test_subscribe_with_4242(page, onsite_live, buyer, listing):
    make_plan(listing.seller, listing, name="Monthly", amount=1000)
    subscribe(page, onsite_live, listing)
    assert page.locator("#payment-total").inner_text() == "€10.00"
    fill_card(page, "4242 4242 4242 4242")
    page.locator("#pay-button").click()
    lands_on_the_subscription(page, onsite_live, "Active")
    assert page.get_by_text("your subscription is active").is_visible()
    no_sideways_scroll(page)
    sub = Subscription.objects.get()
    assert sub.status == Subscription.Status.ACTIVE
    assert SubscriptionInvoice.objects.get().status == "paid"


def test_start_a_trial_at_375_px(page, onsite_live, buyer, listing):
    page.set_viewport_size({"width": 375, "height": 800})
    make_plan(listing.seller, listing, name="Monthly", amount=1000, trial_days=14)
    subscribe(page, onsite_live, listing)
    page.set_viewport_size({"width": 375, "height": 800})
    assert "nothing is charged today" in page.locator(".subscription-due").inner_text()
    fill_card(page, "4242 4242 4242 4242")
    page.get_by_role("button", name="Start the free trial").click()
    lands_on_the_subscription(page, onsite_live, "Free trial")
    assert page.get_by_text("Your free trial has started").is_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    sub = Subscription.objects.get()
    stripe_sub = stripe_gateway.client().v1.subscriptions.retrieve(sub.stripe_subscription_id)
    assert stripe_sub.status == "trialing" and stripe_sub.default_payment_method


def test_3d_secure_in_the_page(page, onsite_live, buyer, listing):
    make_plan(listing.seller, listing, name="Monthly", amount=1000)
    subscribe(page, onsite_live, listing)
    fill_card(page, "4000 0025 0000 3155")
    page.locator("#pay-button").click()
    dialog = page.get_by_role("dialog", name="SANDBOX 3-D Secure")
    dialog.get_by_role("button", name="Fail").click()
    assert "authentication" in error_text(page)
    assert Subscription.objects.get().status == Subscription.Status.INCOMPLETE
    page.locator("#pay-button").click()
    page.get_by_role("dialog", name="SANDBOX 3-D Secure").get_by_role(
        "button", name="Complete"
    ).click()
    lands_on_the_subscription(page, onsite_live, "Active")


def test_declined_then_a_good_card_at_375_px(page, onsite_live, buyer, listing):
    page.set_viewport_size({"width": 375, "height": 800})
    make_plan(listing.seller, listing, name="Monthly", amount=1000)
    subscribe(page, onsite_live, listing)
    page.set_viewport_size({"width": 375, "height": 800})
    fill_card(page, "4000 0000 0000 0002")
    page.locator("#pay-button").click()
    message = error_text(page).lower()
    assert "declined" in message and "try again" in message
    assert Subscription.objects.get().status == Subscription.Status.INCOMPLETE
    fill_card(page, "4242 4242 4242 4242")
    page.locator("#pay-button").click()
    lands_on_the_subscription(page, onsite_live, "Active")
    assert page.evaluate("document.documentElement.scrollWidth") <= 375


def test_failed_renewal_paid_on_our_page(page, onsite_live, buyer, listing, mailoutbox):
    make_plan(listing.seller, listing, name="Monthly", amount=1000)
    subscribe(page, onsite_live, listing)
    fill_card(page, "4242 4242 4242 4242")
    page.locator("#pay-button").click()
    lands_on_the_subscription(page, onsite_live, "Active")
    sub = Subscription.objects.get()
    card_fails(sub)
    testing.advance(days=31)
    sub.refresh_from_db()
    assert sub.status == Subscription.Status.PAST_DUE
    # The email's link leads to our page.
    failed = [m for m in mailoutbox if "Payment failed" in m.subject]
    link = re.search(rf"{re.escape(onsite_live)}/subscriptions/\d+/pay/", failed[-1].body)
    assert link, failed[-1].body
    page.goto(link.group(0))
    page.locator("#pay-button:not([disabled])").wait_for()
    assert "Your last payment failed" in page.content()
    no_sideways_scroll(page)
    # The card that failed is offered for one click; the buyer types a good one instead.
    fill_card(page, "4242 4242 4242 4242")
    page.locator("#pay-button").click()
    lands_on_the_subscription(page, onsite_live, "Active")
    sub.refresh_from_db()
    assert sub.status == Subscription.Status.ACTIVE
    assert SubscriptionInvoice.objects.filter(status="paid").count() == 2
