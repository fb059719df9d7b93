"""Every page type in a real browser, on ``make demo``'s data: axe-core finds no serious or critical
violation, and no page scrolls sideways at 1280 px or at 375 px; the phone menu works by keyboard.

axe-core comes bundled with ``axe-playwright-python`` (injected from the package, no network). One
browser for the session, one context per person, pages visited one after the other.
"""

from __future__ import annotations

import io
import re
import time
from collections.abc import Callable

import pytest
from django.core.management import call_command

from tests.buyers.test_browser import fill_shipping
from tests.factories import PASSWORD, totp_code

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTHS = (1280, 375)
FAILING_IMPACTS = {"serious", "critical"}


@pytest.fixture(scope="module")
def axe():
    from axe_playwright_python.sync_playwright import Axe

    return Axe()


@pytest.fixture
def demo(settings, live_server):
    """The demo data, bought through the sandbox, with hosted pages on the live server."""
    from marketplace import stripe_gateway

    settings.STRIPE_SANDBOX = True
    settings.SITE_URL = live_server.url
    settings.SANDBOX_WEBHOOK_DELIVERY = "inline"
    # The live server serves /static/ from the finders: plain names, not the manifest's.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    stripe_gateway.reset_client()
    started = time.monotonic()
    out = io.StringIO()
    call_command("demo_seed", stdout=out)
    print(f"\ndemo_seed: {time.monotonic() - started:.1f} s")
    # The demo admin signs in with a second factor; demo_seed prints its authenticator secret.
    secret = re.search(r"authenticator app secret: (\w+)", out.getvalue())
    assert secret is not None, out.getvalue()[-2000:]
    yield live_server.url, secret.group(1)
    stripe_gateway.reset_client()


def sideways_scroll(page) -> int:
    """How many pixels the page is wider than the window (0 when nothing scrolls sideways)."""
    return int(page.evaluate("document.documentElement.scrollWidth - window.innerWidth"))


def serious_violations(axe, page) -> list[str]:
    """axe-core's serious and critical findings on the page as it is now (injected once per
    document from the package's bundled copy)."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(axe.axe_script)
    violations = page.evaluate("axe.run(document, {resultTypes: ['violations']})")["violations"]
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at "
        + ", ".join(str(node["target"]) for node in v["nodes"][:3])
        for v in violations
        if v["impact"] in FAILING_IMPACTS
    ]


class Sweep:
    """Visits pages at each width and collects what a user would trip over, per page type."""

    def __init__(self, axe, base: str) -> None:
        self.axe = axe
        self.base = base
        self.problems: list[str] = []
        self.visited: list[str] = []
        self.axe_seconds = 0.0

    def check(
        self, page, name: str, url: str | None = None, *, status: int = 200, phone_axe: bool = False
    ) -> None:
        """Open ``url`` (or take the page where it is: one-time links) and check it at 1280 px,
        then at 375 px (the same document, resized: the layout is CSS's, not the server's).

        axe runs at 1280 px; at 375 px only where asked (the first page of each person, with the
        menu button): the markup is the same at both widths and axe costs a second a page."""
        self.visited.append(name)
        page.set_viewport_size({"width": WIDTHS[0], "height": 900})
        if url is not None:
            response = page.goto(url if url.startswith("http") else self.base + url)
            if response is None or response.status != status:
                got = response.status if response else "no response"
                self.problems.append(f"{name}: HTTP {got}, expected {status}")
                return
        page.wait_for_load_state("load")
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 900})
            if (extra := sideways_scroll(page)) > 0:
                self.problems.append(f"{name} at {width} px scrolls sideways by {extra} px")
            if width != WIDTHS[0] and not phone_axe:
                continue
            started = time.monotonic()
            for violation in serious_violations(self.axe, page):
                self.problems.append(f"{name} at {width} px: {violation}")
            self.axe_seconds += time.monotonic() - started


def log_in(context, base: str, email: str, *, totp: str | None = None):
    from marketplace.demo import DEMO_PASSWORD

    page = context.new_page()
    page.goto(base + "/accounts/login/")
    page.fill("input[name=login]", email)
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.locator("form button[type=submit]").last.click()
    if totp is not None:  # staff: the authenticator code too
        page.wait_for_url(re.compile(r".*/accounts/2fa/authenticate/"))
        page.fill("input[name=code]", totp_code(totp))
        page.locator("form button[type=submit]").first.click()
    page.wait_for_url(re.compile(r".*/$"))
    return page


def in_new_tab(context, click: Callable[[], None]):
    with context.expect_page() as opened:
        click()
    tab = opened.value
    tab.wait_for_load_state("load")
    return tab


def billing_pages() -> tuple[str, str]:
    """A subscription with an open invoice (default_incomplete) on the sandbox: the invoice's
    hosted page and a customer portal session for its customer."""
    from sandbox import testing as sandbox_testing

    sdk = sandbox_testing.stripe_client()
    customer = sdk.v1.customers.create({"email": "member@example.com"})
    price = sdk.v1.prices.create(
        {
            "currency": "eur",
            "unit_amount": 1500,
            "recurring": {"interval": "month"},
            "product_data": {"name": "Mug of the month"},
        }
    )
    sub = sdk.v1.subscriptions.create(
        {
            "customer": customer.id,
            "items": [{"price": price.id}],
            "payment_behavior": "default_incomplete",
            "expand": ["latest_invoice"],
        }
    )
    portal = sdk.v1.billing_portal.sessions.create(
        {"customer": customer.id, "return_url": "http://example.com/"}
    )
    return sub.latest_invoice.hosted_invoice_url, portal.url


def subscription_pages(listing):
    """Two plans (one with usage) on the demo seller's listing; the demo buyer subscribed to
    the first through the sandbox's Checkout, with some usage recorded."""
    from django.contrib.auth import get_user_model
    from django.test import Client

    from subscriptions import services
    from subscriptions.models import Subscription

    seller = listing.seller
    plan = services.plan_create(
        seller=seller,
        listing_id=listing.pk,
        data=services.PlanInput(
            name="Monthly",
            amount=900,
            interval="month",
            trial_days=0,
            meter_name="workshops attended",
            usage_unit_amount=250,
        ),
    )
    pro = services.plan_create(
        seller=seller,
        listing_id=listing.pk,
        data=services.PlanInput(name="Pro", amount=2500, interval="month"),
    )
    buyer = get_user_model().objects.get(email="buyer@example.com")
    sub = services.subscription_start(buyer=buyer, plan_id=plan.pk)
    client = Client()
    client.force_login(buyer)
    response = client.post(
        "/" + sub.checkout_url.split("/", 3)[3],
        {
            "email": buyer.email,
            "card_number": "4242424242424242",
            "expiry": "12 / 34",
            "cvc": "123",
            "name": "Ada",
        },
    )
    assert response.status_code == 302, response.content[:500]
    sub = Subscription.objects.get(pk=sub.pk)
    assert sub.status == "active", sub.status
    services.usage_record(seller=seller, subscription_id=sub.pk, quantity=2, note="demo")
    return plan, pro, sub


def onsite_subscription(listing):
    """The demo buyer subscribing on our own page to a plan of another of the seller's
    listings: an incomplete subscription whose first invoice waits for the Payment Element."""
    from django.contrib.auth import get_user_model

    from sellers.models import Listing
    from subscriptions import onsite, services

    other = (
        Listing.objects.filter(seller=listing.seller, status=Listing.Status.PUBLISHED)
        .exclude(pk=listing.pk)
        .first()
    )
    assert other is not None
    plan = services.plan_create(
        seller=listing.seller,
        listing_id=other.pk,
        data=services.PlanInput(name="Club", amount=1500, interval="month"),
    )
    buyer = get_user_model().objects.get(email="buyer@example.com")
    return onsite.subscribe(buyer=buyer, plan_id=plan.pk)


def test_every_page_type_passes_axe_and_fits_a_phone(browser, demo, axe, settings):
    from buyers.models import Order
    from payouts.models import LedgerTransaction
    from sellers.models import Listing

    base, admin_totp_secret = demo
    sweep = Sweep(axe, base)
    listing = Listing.objects.filter(seller__user__email="seller@example.com").first()
    order = Order.objects.filter(buyer__email="buyer@example.com", status="paid").first()
    assert listing is not None and order is not None and order.charge_id

    # The after-sale: a buyer's request and a message on one of the seller's sales, a review of
    # a shipped one (made through the services, as the pages would).
    from buyers.aftersale import services as aftersale

    sale = (
        Order.objects.filter(seller=listing.seller, status__in=["paid", "fulfilled"])
        .order_by("pk")
        .first()
    )
    assert sale is not None
    problem = aftersale.problem_report_create(
        buyer=sale.buyer, order_id=sale.pk, reason="damaged", message="The lid is chipped."
    )
    aftersale.order_message_post(author=sale.buyer, order_id=sale.pk, body="Photo on request.")
    shipped = Order.objects.filter(seller=listing.seller, status="fulfilled").first()
    if shipped is None:
        from buyers.services import order_mark_fulfilled

        shipped = order_mark_fulfilled(order_id=sale.pk, seller=listing.seller)
    aftersale.review_create(
        buyer=shipped.buyer, order_id=shipped.pk, rating=4, body="Lovely, well packed."
    )

    # Anyone: the catalogue, a listing, a shop, the account pages, errors, the sandbox's control.
    context = browser.new_context()
    page = context.new_page()
    sweep.check(page, "catalogue", "/", phone_axe=True)
    sweep.check(page, "catalogue search", "/?q=mug")
    sweep.check(page, "listing", f"/listing/{listing.pk}/")
    sweep.check(page, "shop", f"/shop/{listing.seller.slug}/")
    sweep.check(page, "log in", "/accounts/login/")
    sweep.check(page, "sign up", "/accounts/signup/")
    sweep.check(page, "password reset", "/accounts/password/reset/")
    sweep.check(page, "not found", "/no-such-page/", status=404)
    sweep.check(page, "sandbox control", "/sandbox/")
    context.close()

    # The buyer: orders, account pages, and Stripe's hosted pages (Checkout, 3-D Secure, receipt).
    context = browser.new_context()
    page = log_in(context, base, "buyer@example.com")
    sweep.check(page, "order list", "/orders/", phone_axe=True)
    sweep.check(page, "order detail", f"/orders/{order.pk}/")
    sweep.check(page, "email addresses", "/accounts/email/")
    sweep.check(page, "change password", "/accounts/password/change/")
    sweep.check(page, "start selling", "/sell/start/")
    buyer_page = context.new_page()
    if sale.buyer.email != "buyer@example.com":
        buyer_page = log_in(browser.new_context(), base, sale.buyer.email)
    sweep.check(buyer_page, "report a problem", f"/orders/{sale.pk}/problem/")
    sweep.check(buyer_page, "order messages", f"/orders/{sale.pk}/messages/")
    sweep.check(buyer_page, "review form", f"/orders/{sale.pk}/review/")
    sweep.check(page, "sandbox receipt", f"/sandbox/receipts/{order.charge_id}/")
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{base}/listing/{listing.pk}/")
    page.get_by_role("button", name="Buy now").click()
    page.wait_for_url(re.compile(r".*/sandbox/checkout/cs_.*"))
    checkout_url = page.url
    sweep.check(page, "sandbox Checkout", checkout_url)
    fill_shipping(page)
    page.fill("input[name=card_number]", "4000 0025 0000 3155")
    page.get_by_role("button", name=re.compile(r"^Pay ")).click()
    page.wait_for_url(re.compile(r".*/sandbox/authenticate/.*"))
    sweep.check(page, "sandbox 3-D Secure")
    # On-site payment (CHECKOUT_UI=elements): our payment page with the sandbox's Stripe.js,
    # the Payment methods page and adding a card.
    settings.CHECKOUT_UI = "elements"
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{base}/listing/{listing.pk}/")
    page.get_by_role("button", name="Buy now").click()
    page.wait_for_url(re.compile(r".*/purchases/\d+/payment/$"))
    page.locator("#pay-button:not([disabled])").wait_for()
    sweep.check(page, "on-site payment")
    sweep.check(page, "payment methods", "/payment-methods/")
    page.goto(base + "/payment-methods/add/")
    page.locator("#pay-button:not([disabled])").wait_for()
    sweep.check(page, "add a card")
    context.close()

    # The seller: dashboard, listing form, sales, balance, settings, onboarding and Express.
    context = browser.new_context()
    page = log_in(context, base, "seller@example.com")
    sale = Order.objects.filter(seller=listing.seller).exclude(status="pending").first()
    assert sale is not None
    sweep.check(page, "seller dashboard", "/sell/", phone_axe=True)
    sweep.check(page, "new listing", "/sell/listings/new/")
    sweep.check(page, "edit listing", f"/sell/listings/{listing.pk}/edit/")
    sweep.check(page, "shop settings", "/sell/settings/")
    sweep.check(page, "sales", "/sales/")
    sweep.check(page, "sale detail", f"/sales/{sale.pk}/")
    sweep.check(page, "sale refund", f"/money/sales/{sale.pk}/refund/")
    sweep.check(page, "balance", "/money/balance/")
    sweep.check(page, "seller refunds", "/money/refunds/")
    sweep.check(page, "buyers' requests", "/sales/requests/")
    sweep.check(page, "answer a request", f"/money/refunds/requests/{problem.pk}/")
    sweep.check(page, "reply to a review", f"/sales/{shipped.pk}/review/reply/")
    page.goto(base + "/sell/")
    express = in_new_tab(
        context, lambda: page.get_by_role("button", name="Open Stripe dashboard").click()
    )
    sweep.check(express, "sandbox Express dashboard")  # a login link works once
    express.close()
    page.goto(base + "/sell/")
    page.get_by_role("button", name=re.compile("Update details")).click()
    page.wait_for_url(re.compile(r".*/sandbox/onboarding/.*"))
    sweep.check(page, "sandbox onboarding")  # an account link works once
    context.close()

    # Subscriptions: a listing's plans, the buyer's subscriptions, one, a plan change's
    # preview; the seller's subscribers, plan form, one subscriber with usage.
    plan, pro, sub = subscription_pages(listing)
    context = browser.new_context()
    page = log_in(context, base, "buyer@example.com")
    sweep.check(page, "subscription plans", f"/subscriptions/listing/{listing.pk}/")
    sweep.check(page, "my subscriptions", "/subscriptions/", phone_axe=True)
    sweep.check(page, "subscription detail", f"/subscriptions/{sub.pk}/")
    sweep.check(page, "plan change preview", f"/subscriptions/{sub.pk}/change/?plan={pro.pk}")
    # Asking for an invoice's refund; once asked, the buyer's and the seller's pages show it.
    invoice = sub.invoices.filter(status="paid").first()
    assert invoice is not None
    ask = f"/subscriptions/{sub.pk}/invoices/{invoice.pk}/refund-request/"
    sweep.check(page, "invoice refund request", ask)
    from subscriptions.refund_requests import invoice_refund_request_create

    invoice_refund_request_create(
        buyer=sub.buyer, invoice_id=invoice.pk, reason="not_used", message="Not used this month."
    )
    sweep.check(page, "subscription with a refund request", f"/subscriptions/{sub.pk}/")
    # Subscribing on our own page (CHECKOUT_UI=elements): the Payment Element with the first
    # invoice's confirmation secret.
    onsite_sub = onsite_subscription(listing)
    page.goto(base + f"/subscriptions/{onsite_sub.pk}/pay/")
    page.locator("#pay-button:not([disabled])").wait_for()
    sweep.check(page, "subscribe on our page")
    context.close()
    context = browser.new_context()
    page = log_in(context, base, "seller@example.com")
    sweep.check(page, "subscribers", "/subscriptions/seller/", phone_axe=True)
    sweep.check(page, "new plan", f"/subscriptions/seller/listings/{listing.pk}/plans/new/")
    sweep.check(page, "edit plan", f"/subscriptions/seller/plans/{plan.pk}/")
    sweep.check(page, "subscriber", f"/subscriptions/seller/subscribers/{sub.pk}/")
    refund_page = f"/money/subscriptions/invoices/{invoice.pk}/refund/"
    sweep.check(page, "invoice refund", refund_page)
    page.get_by_label("An amount").check()
    page.get_by_label("Amount to refund").fill("1.00")
    page.get_by_role("button", name="Review the refund…").click()
    page.wait_for_selector(".invoice-refund-confirm")
    sweep.check(page, "invoice refund confirmation")
    context.close()

    # Stripe's billing pages (sandbox): an open invoice's hosted page and the customer portal.
    context = browser.new_context()
    page = context.new_page()
    invoice_url, portal_url = billing_pages()
    sweep.check(page, "sandbox hosted invoice", invoice_url)
    sweep.check(page, "sandbox customer portal", portal_url)
    context.close()

    # Staff: the money dashboard and review pages.
    transfer = LedgerTransaction.objects.filter(kind="transfer").first()
    assert transfer is not None
    context = browser.new_context()
    page = log_in(context, base, "admin@example.com", totp=admin_totp_secret)
    sweep.check(page, "money dashboard", "/money/dashboard/", phone_axe=True)
    sweep.check(page, "fee rules", "/money/fees/")
    sweep.check(page, "new fee rule", "/money/fees/new/")
    sweep.check(page, "fee simulator", "/money/fees/simulate/")
    sweep.check(page, "transfers", "/money/transfers/")
    sweep.check(page, "transfer detail", f"/money/transfers/{transfer.pk}/")
    sweep.check(page, "refunds", "/money/refunds/")
    sweep.check(page, "refund form", f"/money/refunds/{order.charge_id}/new/")
    sweep.check(page, "invoice refund (staff)", refund_page)
    sweep.check(page, "disputes", "/money/disputes/")
    sweep.check(page, "reconciliation", "/money/reconciliation/")
    sweep.check(page, "reviews (staff)", "/money/reviews/")
    sweep.check(page, "request (staff)", f"/money/refunds/requests/{problem.pk}/")
    sweep.check(page, "audit log", "/staff/audit/")
    context.close()

    print(
        f"\n{len(sweep.visited)} page types checked at {WIDTHS} px, axe {sweep.axe_seconds:.1f} s"
    )
    assert len(sweep.visited) >= 35
    assert sweep.problems == [], "\n".join(sweep.problems)


def test_phone_menu_skip_link_and_focus_by_keyboard(page, live_server):
    page.set_viewport_size({"width": 375, "height": 800})
    page.goto(live_server.url + "/accounts/login/")
    button = page.get_by_role("button", name="Menu")
    nav = page.locator("#main-nav")
    assert button.get_attribute("aria-expanded") == "false"
    assert button.get_attribute("aria-controls") == "main-nav"
    assert not nav.is_visible()

    # The first Tab lands on the skip link, which shows itself and jumps to the content.
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    assert skip.bounding_box()["y"] >= 0
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"

    # Open with the keyboard: the menu shows, says so, and takes the focus; Escape gives it back.
    button.focus()
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline not in ("", "none")  # the keyboard focus is visible
    page.keyboard.press("Enter")
    assert button.get_attribute("aria-expanded") == "true" and nav.is_visible()
    assert page.evaluate("document.getElementById('main-nav').contains(document.activeElement)")
    page.keyboard.press("Escape")
    assert button.get_attribute("aria-expanded") == "false" and not nav.is_visible()
    assert page.evaluate("document.activeElement.classList.contains('nav-toggle')")

    # At desktop width the links are simply there and the button is not.
    page.set_viewport_size({"width": 1280, "height": 800})
    assert nav.get_by_role("link", name="Log in").is_visible() and not button.is_visible()


def test_messages_are_announced_in_a_status_region(page, live_server):
    from tests.factories import UserFactory

    user = UserFactory(email="status@example.com")
    page.goto(live_server.url + "/accounts/login/")
    page.fill("input[name=login]", user.email)
    page.fill("input[name=password]", PASSWORD)
    page.locator("form button[type=submit]").last.click()
    page.wait_for_url(re.compile(r".*/$"))
    status = page.get_by_role("status").filter(has_text="Successfully signed in")
    assert status.count() == 1


def test_axe_runs_offline(page, live_server, axe):
    """The bundled axe-core needs no network: every request off the live server is refused."""
    blocked: list[str] = []

    def only_local(route):
        if route.request.url.startswith(live_server.url):
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    page.route("**/*", only_local)
    page.goto(live_server.url + "/accounts/login/")
    assert serious_violations(axe, page) == []
    # And it does find things: an image with no text alternative is reported.
    page.evaluate(
        "document.querySelector('main').insertAdjacentHTML('beforeend', '<img src=\"/x.png\">')"
    )
    results = axe.run(page)
    assert results.response["testEngine"]["name"] == "axe-core"
    assert "image-alt" in [v["id"] for v in results.response["violations"]]
    assert blocked == []
