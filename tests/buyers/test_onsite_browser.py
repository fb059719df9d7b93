"""Headless Chromium through the sandbox's Stripe.js on our own payment page
(``CHECKOUT_UI=elements``): pay with 4242, a decline then a good card, 3-D Secure failed then
completed, save the card then pay a second purchase in one click, add and remove a card on the
Payment methods page, a seller accepting one order and declining another, and an acceptance
deadline passing on the sandbox clock. Signed webhooks are delivered inline to our endpoint."""

from __future__ import annotations

import re

import pytest

from buyers.models import Order, Purchase
from marketplace import stripe_gateway
from sandbox import testing
from tests.buyers.factories import ListingFactory, SellerFactory
from tests.buyers.sandbox_support import onboarded_account
from tests.buyers.test_browser import log_in
from tests.factories import UserFactory

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
def seller(onsite_live):
    return SellerFactory(
        display_name="Pottery Co",
        stripe_account_id=onboarded_account(),
        user=UserFactory(email="seller@example.com"),
    )


@pytest.fixture
def mug(seller):
    return ListingFactory(seller=seller, title="Blue mug", stock=5, price_amount=2500)


@pytest.fixture
def vase(seller):
    return ListingFactory(
        seller=seller, title="Custom vase", stock=5, price_amount=4000, accepts_orders_first=True
    )


@pytest.fixture
def buyer(page, live_server, onsite_live):
    user = UserFactory(email="buyer@example.com")
    log_in(page, live_server, user)
    return user


def stock(listing):
    listing.refresh_from_db()
    return listing.reserved, listing.sold


def buy_now(page, site, listing, quantity=1):
    page.goto(f"{site}/listing/{listing.pk}/")
    if quantity != 1:
        page.fill("input[name=quantity]", str(quantity))
    page.get_by_role("button", name="Buy now").click()
    page.wait_for_url(re.compile(r".*/purchases/\d+/payment/$"))
    page.locator("#pay-button:not([disabled])").wait_for()


def fill_card(page, number):
    page.get_by_label("Card number").fill(number)
    page.get_by_label("Expiry (MM / YY)").fill("12 / 34")
    page.get_by_label("CVC").fill("123")


def pay(page):
    page.get_by_role("button", name=re.compile(r"^Pay ")).last.click()


def error_text(page) -> str:
    page.locator("#payment-error:not([hidden])").wait_for()
    return page.locator("#payment-error").inner_text()


def lands_on_paid_order(page, site):
    page.wait_for_url(re.compile(rf"{site}/orders/\d+/.*"))
    page.locator(".order-state").get_by_text("Paid").wait_for()


def test_pay_on_site_with_4242(page, onsite_live, buyer, mug):
    buy_now(page, onsite_live, mug, quantity=2)
    assert "SANDBOX" in page.locator("#payment-element").inner_text()
    assert page.locator("#payment-total").inner_text() == "€50.00"
    fill_card(page, "4242 4242 4242 4242")
    pay(page)
    lands_on_paid_order(page, onsite_live)
    assert stock(mug) == (0, 2)
    assert Purchase.objects.get().status == Purchase.Status.PAID


def test_declined_then_a_good_card(page, onsite_live, buyer, mug):
    buy_now(page, onsite_live, mug)
    fill_card(page, "4000 0000 0000 0002")
    pay(page)
    assert "declined" in error_text(page).lower()
    assert "try another card" in error_text(page).lower()
    assert Order.objects.get().status == Order.Status.PENDING and stock(mug) == (1, 0)
    fill_card(page, "4242 4242 4242 4242")
    pay(page)
    lands_on_paid_order(page, onsite_live)
    assert stock(mug) == (0, 1)


def test_3d_secure_failed_then_completed(page, onsite_live, buyer, mug):
    buy_now(page, onsite_live, mug)
    fill_card(page, "4000 0025 0000 3155")
    pay(page)
    dialog = page.get_by_role("dialog", name="SANDBOX 3-D Secure")
    dialog.get_by_role("button", name="Fail").click()
    assert "failed authentication" in error_text(page)
    assert Order.objects.get().status == Order.Status.PENDING
    pay(page)
    page.get_by_role("dialog", name="SANDBOX 3-D Secure").get_by_role(
        "button", name="Complete"
    ).click()
    lands_on_paid_order(page, onsite_live)
    assert stock(mug) == (0, 1)


def test_save_the_card_then_pay_in_one_click(page, onsite_live, buyer, mug):
    buy_now(page, onsite_live, mug)
    fill_card(page, "4242 4242 4242 4242")
    page.get_by_label("Save this card for next time").check()
    pay(page)
    lands_on_paid_order(page, onsite_live)

    buy_now(page, onsite_live, mug)
    one_click = page.get_by_role("button", name=re.compile(r"with Visa ending 4242"))
    one_click.dblclick()  # a double click pays once
    lands_on_paid_order(page, onsite_live)
    assert stock(mug) == (0, 2)
    second = Purchase.objects.order_by("-pk").first()
    charges = stripe_gateway.client().v1.charges.list({"payment_intent": second.payment_intent_id})
    assert len(charges.data) == 1


def test_add_and_remove_a_card(page, onsite_live, buyer):
    page.goto(f"{onsite_live}/payment-methods/")
    assert "no saved cards" in page.content()
    page.get_by_role("link", name="Add a card").click()
    page.locator("#pay-button:not([disabled])").wait_for()
    fill_card(page, "5555 5555 5555 4444")
    page.get_by_role("button", name="Save card").click()
    page.wait_for_url(f"{onsite_live}/payment-methods/")
    page.get_by_text("Your card is saved.").wait_for()
    assert page.locator(".card-name").get_by_text("Mastercard ending 4444").is_visible()
    page.get_by_role("button", name=re.compile(r"Remove")).click()
    page.get_by_text("was removed").wait_for()
    assert "no saved cards" in page.content()


def _authorise(page, site, listing, quantity=1) -> Order:
    buy_now(page, site, listing, quantity=quantity)
    assert page.locator(".acceptance-note").is_visible()
    fill_card(page, "4242 4242 4242 4242")
    pay(page)
    page.wait_for_url(re.compile(rf"{site}/orders/\d+/.*"))
    page.locator(".awaiting-seller").wait_for()
    return Order.objects.order_by("-pk").first()


def test_seller_accepts_one_order_and_declines_another(
    page, browser, onsite_live, live_server, buyer, vase
):
    accepted = _authorise(page, onsite_live, vase, quantity=2)
    declined = _authorise(page, onsite_live, vase)
    assert stock(vase) == (3, 0)

    seller_page = browser.new_context(viewport={"width": 375, "height": 800}).new_page()
    log_in(seller_page, live_server, vase.seller.user)
    seller_page.goto(f"{onsite_live}/sales/{accepted.pk}/")
    seller_page.get_by_role("button", name="Accept and charge the buyer").click()
    seller_page.get_by_text("Order accepted").wait_for()
    accepted.refresh_from_db()
    assert accepted.status == Order.Status.PAID and accepted.amount == 8000

    seller_page.goto(f"{onsite_live}/sales/{declined.pk}/")
    seller_page.get_by_role("button", name="Decline the order").click()
    seller_page.get_by_text("Order declined").wait_for()
    declined.refresh_from_db()
    assert declined.status == Order.Status.CANCELED
    assert stock(vase) == (0, 2)
    width = seller_page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375
    seller_page.context.close()

    page.goto(f"{onsite_live}/orders/{declined.pk}/")
    assert "nothing was charged" in page.content()


def test_acceptance_deadline_passes_on_the_sandbox_clock(page, onsite_live, buyer, vase):
    from buyers.services import onsite

    order = _authorise(page, onsite_live, vase)
    testing.advance(hours=73)
    assert onsite.acceptances_expire_due() == 1
    page.goto(f"{onsite_live}/orders/{order.pk}/")
    assert "nothing was charged" in page.content()
    order.refresh_from_db()
    assert order.status == Order.Status.EXPIRED and stock(vase) == (0, 0)


def test_payment_page_fits_375_px(page, onsite_live, buyer, mug):
    page.set_viewport_size({"width": 375, "height": 800})
    buy_now(page, onsite_live, mug)
    assert page.evaluate("document.documentElement.scrollWidth") <= 375


def test_stripe_js_failing_to_load_offers_hosted_checkout(page, onsite_live, buyer, mug):
    page.route(re.compile(r".*/sandbox/js/v3/$"), lambda route: route.abort())
    page.goto(f"{onsite_live}/listing/{mug.pk}/")
    page.get_by_role("button", name="Buy now").click()
    page.wait_for_url(re.compile(r".*/purchases/\d+/payment/$"))
    alert = page.locator("#stripe-unavailable")
    alert.wait_for()
    assert "could not load" in alert.inner_text()
    assert not page.locator("#payment-form").is_visible()
    purchase = Purchase.objects.get()
    intent_id = purchase.payment_intent_id
    page.get_by_role("button", name="Pay on Stripe's payment page instead").click()
    page.wait_for_url(re.compile(r".*/sandbox/checkout/cs_.*"))
    # The on-site intent can no longer be paid: the purchase is paid once, on Checkout.
    assert stripe_gateway.client().v1.payment_intents.retrieve(intent_id).status == "canceled"
    purchase.refresh_from_db()
    assert purchase.status == Purchase.Status.PENDING and purchase.checkout_session_id
    assert stock(mug) == (1, 0)
