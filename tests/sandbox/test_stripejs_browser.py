"""The sandbox's stand-in Stripe.js in headless Chromium, on a minimal test page
(tests/sandbox/stripejs_page): pay with 4242, a decline then a good card, 3-D Secure completed
and failed in the in-page challenge, a double click, confirmSetup, and the redirect to
return_url with Stripe's query parameters."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import transaction

from sandbox import testing
from sandbox.resources import accounts

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def sandbox_site(settings, live_server):
    settings.SITE_URL = live_server.url
    settings.SANDBOX_WEBHOOK_DELIVERY = "manual"
    settings.ROOT_URLCONF = "tests.sandbox.stripejs_page.views"
    return live_server.url


@pytest.fixture
def sdk_live(sandbox_site):
    return testing.stripe_client()


@pytest.fixture
def seller_id(sdk_live):
    seller = sdk_live.v1.accounts.create(
        {"type": "express", "country": "FR", "capabilities": {"transfers": {"requested": True}}}
    )
    with transaction.atomic():
        accounts.apply_onboarding(seller.id, outcome="complete", business_name="Ada's Mugs")
    return seller.id


def intent(sdk, seller_id: str, **extra):
    return sdk.v1.payment_intents.create(
        {
            "amount": 2500,
            "currency": "eur",
            "transfer_data": {"destination": seller_id},
            "application_fee_amount": 250,
            **extra,
        }
    )


def open_page(page, site: str, client_secret: str, **query: str):
    params = "&".join(f"{k}={v}" for k, v in {"client_secret": client_secret, **query}.items())
    page.goto(f"{site}/stripejs-test/?{params}")
    page.locator("#app[data-ready='1']").wait_for()


def fill_card(page, number: str, expiry: str = "12 / 34", cvc: str = "123"):
    page.get_by_label("Card number").fill(number)
    page.get_by_label("Expiry (MM / YY)").fill(expiry)
    page.get_by_label("CVC").fill(cvc)


def message(page) -> str:
    page.locator("#message:not(:empty)").wait_for()
    return page.locator("#message").text_content() or ""


def test_pay_with_4242_and_redirect_to_return_url(page, sandbox_site, sdk_live, seller_id):
    pi = intent(sdk_live, seller_id)
    open_page(page, sandbox_site, pi.client_secret, redirect="always")
    assert "SANDBOX" in page.locator("#payment-element").inner_text()
    fill_card(page, "4242 4242 4242 4242")
    page.get_by_role("button", name="Pay").click()
    page.wait_for_url(re.compile(r".*/stripejs-test/returned/\?.*"))
    query = parse_qs(urlsplit(page.url).query)
    assert query == {
        "payment_intent": [pi.id],
        "payment_intent_client_secret": [pi.client_secret],
        "redirect_status": ["succeeded"],
    }
    paid = sdk_live.v1.payment_intents.retrieve(pi.id)
    assert paid.status == "succeeded" and paid.amount_received == 2500
    charge = sdk_live.v1.charges.retrieve(paid.latest_charge)
    assert charge.payment_method_details.card.last4 == "4242"
    assert charge.application_fee_amount == 250 and charge.transfer


def test_decline_then_a_good_card(page, sandbox_site, sdk_live, seller_id):
    pi = intent(sdk_live, seller_id)
    open_page(page, sandbox_site, pi.client_secret)
    fill_card(page, "4000 0000 0000 0002")
    page.get_by_role("button", name="Pay").click()
    assert (
        message(page) == "Error: card_error card_declined generic_decline | Your card was declined."
    )
    page.evaluate("document.getElementById('message').textContent = ''")
    fill_card(page, "4000 0000 0000 9995")
    page.get_by_role("button", name="Pay").click()
    assert message(page).endswith("insufficient_funds | Your card has insufficient funds.")
    page.evaluate("document.getElementById('message').textContent = ''")
    fill_card(page, "4242 4242 4242 4242")
    page.get_by_role("button", name="Pay").click()
    assert message(page) == f"Done: {pi.id} succeeded"
    assert sdk_live.v1.payment_intents.retrieve(pi.id).status == "succeeded"
    charges = sdk_live.v1.charges.list({"payment_intent": pi.id})
    assert sorted(c.status for c in charges.data) == ["failed", "failed", "succeeded"]


def test_validation_errors_stay_in_the_page(page, sandbox_site, sdk_live, seller_id):
    pi = intent(sdk_live, seller_id)
    open_page(page, sandbox_site, pi.client_secret)
    fill_card(page, "4242 4242 4242 4241")
    page.get_by_role("button", name="Pay").click()
    assert message(page) == "Error: validation_error invalid_number  | Your card number is invalid."
    assert page.get_by_role("alert").inner_text() == "Your card number is invalid."
    assert page.get_by_label("Card number").get_attribute("aria-invalid") == "true"
    # Nothing reached the sandbox: no PaymentMethod, the intent untouched.
    assert not testing.requests(path="/v1/payment_methods")
    assert sdk_live.v1.payment_intents.retrieve(pi.id).status == "requires_payment_method"


def test_3d_secure_complete_and_fail(page, sandbox_site, sdk_live, seller_id):
    pi = intent(sdk_live, seller_id)
    open_page(page, sandbox_site, pi.client_secret)
    fill_card(page, "4000 0025 0000 3155")
    page.get_by_role("button", name="Pay").click()
    dialog = page.get_by_role("dialog", name="SANDBOX 3-D Secure")
    dialog.wait_for()
    assert "Authenticate the payment of €25.00." in dialog.inner_text()
    dialog.get_by_role("button", name="Fail").click()
    assert message(page) == (
        "Error: invalid_request_error payment_intent_authentication_failure  | The provided "
        "PaymentMethod has failed authentication. You can provide payment_method_data or a new "
        "PaymentMethod to attempt to fulfill this PaymentIntent again."
    )
    assert page.get_by_role("dialog").count() == 0
    failed = sdk_live.v1.payment_intents.retrieve(pi.id)
    assert failed.status == "requires_payment_method"
    assert failed.last_payment_error.code == "payment_intent_authentication_failure"

    page.evaluate("document.getElementById('message').textContent = ''")
    page.get_by_role("button", name="Pay").click()
    # Keyboard: the challenge has focus on Complete; Enter completes it.
    page.get_by_role("dialog").wait_for()
    assert page.evaluate("document.activeElement.textContent") == "Complete"
    page.keyboard.press("Enter")
    assert message(page) == f"Done: {pi.id} succeeded"
    paid = sdk_live.v1.payment_intents.retrieve(pi.id)
    charge = sdk_live.v1.charges.retrieve(paid.latest_charge)
    assert charge.payment_method_details.card.three_d_secure.result == "authenticated"


def test_a_double_click_confirms_once(page, sandbox_site, sdk_live, seller_id):
    pi = intent(sdk_live, seller_id)
    open_page(page, sandbox_site, pi.client_secret)
    fill_card(page, "4242 4242 4242 4242")
    page.get_by_role("button", name="Pay").dblclick()
    assert message(page) == f"Done: {pi.id} succeeded"
    confirms = testing.requests(path=f"/v1/payment_intents/{pi.id}/confirm")
    assert len(confirms) == 1 and confirms[0].status == 200
    assert len(sdk_live.v1.charges.list({"payment_intent": pi.id}).data) == 1


def test_confirm_setup_saves_a_card_after_3d_secure(page, sandbox_site, sdk_live):
    customer = sdk_live.v1.customers.create({"email": "ana@example.com"})
    si = sdk_live.v1.setup_intents.create({"customer": customer.id})
    open_page(page, sandbox_site, si.client_secret, mode="setup", redirect="always")
    fill_card(page, "4000 0025 0000 3155")
    page.get_by_role("button", name="Pay").click()
    page.get_by_role("dialog", name="SANDBOX 3-D Secure").get_by_role(
        "button", name="Complete"
    ).click()
    page.wait_for_url(re.compile(r".*/stripejs-test/returned/\?.*"))
    assert parse_qs(urlsplit(page.url).query) == {
        "setup_intent": [si.id],
        "setup_intent_client_secret": [si.client_secret],
        "redirect_status": ["succeeded"],
    }
    saved = sdk_live.v1.customers.payment_methods.list(customer.id).data
    assert [c.card.last4 for c in saved] == ["3155"]
    # Set up with its challenge: the card pays off session without a new one.
    paid = sdk_live.v1.payment_intents.create(
        {
            "amount": 1200,
            "currency": "eur",
            "customer": customer.id,
            "payment_method": saved[0].id,
            "off_session": True,
            "confirm": True,
        }
    )
    assert paid.status == "succeeded"


def test_confirm_setup_decline(page, sandbox_site, sdk_live):
    customer = sdk_live.v1.customers.create({})
    si = sdk_live.v1.setup_intents.create({"customer": customer.id})
    open_page(page, sandbox_site, si.client_secret, mode="setup")
    fill_card(page, "4000 0000 0000 0002")
    page.get_by_role("button", name="Pay").click()
    assert (
        message(page) == "Error: card_error card_declined generic_decline | Your card was declined."
    )
    assert not sdk_live.v1.customers.payment_methods.list(customer.id).data


def test_save_card_while_paying_then_pay_again_in_one_click(page, sandbox_site, sdk_live):
    customer = sdk_live.v1.customers.create({})
    first = sdk_live.v1.payment_intents.create(
        {"amount": 1500, "currency": "eur", "customer": customer.id}
    )
    open_page(page, sandbox_site, first.client_secret, save="1")
    fill_card(page, "4242 4242 4242 4242")
    page.get_by_role("button", name="Pay").click()
    assert message(page) == f"Done: {first.id} succeeded"
    saved = sdk_live.v1.customers.payment_methods.list(customer.id).data
    assert len(saved) == 1
    second = sdk_live.v1.payment_intents.create(
        {"amount": 900, "currency": "eur", "customer": customer.id}
    )
    open_page(
        page, sandbox_site, second.client_secret, mode="saved_card", payment_method=saved[0].id
    )
    page.get_by_role("button", name="Pay").click()
    assert message(page) == f"Done: {second.id} succeeded"


def test_handle_next_action_for_a_saved_card_the_bank_challenges(page, sandbox_site, sdk_live):
    customer = sdk_live.v1.customers.create({})
    pm = sdk_live.v1.payment_methods.attach(
        "pm_card_authenticationRequired", {"customer": customer.id}
    )
    pi = sdk_live.v1.payment_intents.create(
        {
            "amount": 1800,
            "currency": "eur",
            "customer": customer.id,
            "payment_method": pm.id,
            "confirm": True,
            "return_url": sandbox_site + "/stripejs-test/returned/",
        }
    )
    assert pi.status == "requires_action"
    open_page(page, sandbox_site, pi.client_secret, mode="next_action")
    page.get_by_role("button", name="Pay").click()
    page.get_by_role("dialog").get_by_role("button", name="Complete").click()
    assert message(page) == f"Done: {pi.id} succeeded"


def test_element_at_375_px_and_axe(page, sandbox_site, sdk_live, seller_id):
    from axe_playwright_python.sync_playwright import Axe

    pi = intent(sdk_live, seller_id)
    page.set_viewport_size({"width": 375, "height": 800})
    open_page(page, sandbox_site, pi.client_secret)
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") == 0
    page.evaluate(Axe().axe_script)
    fill_card(page, "4000 0025 0000 3155")
    violations = page.evaluate("axe.run(document, {resultTypes: ['violations']})")["violations"]
    assert [v["id"] for v in violations if v["impact"] in ("serious", "critical")] == []
    page.get_by_role("button", name="Pay").click()
    page.get_by_role("dialog").wait_for()
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") == 0
    violations = page.evaluate("axe.run(document, {resultTypes: ['violations']})")["violations"]
    assert [v["id"] for v in violations if v["impact"] in ("serious", "critical")] == []
    # Keyboard only: Tab moves between the two buttons, Escape fails the challenge.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Fail"
    page.keyboard.press("Escape")
    assert "payment_intent_authentication_failure" in message(page)
