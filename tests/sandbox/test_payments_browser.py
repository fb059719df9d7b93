"""The hosted checkout page in headless Chromium: a declined card, then 3D Secure, then paid."""

from __future__ import annotations

import re

import pytest
from django.db import transaction

from sandbox import testing
from sandbox.resources import accounts
from tests.sandbox.payhelpers import session_params

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_checkout_page_in_a_browser(page, live_server, settings):
    settings.SITE_URL = live_server.url
    settings.SANDBOX_WEBHOOK_DELIVERY = "manual"
    sdk = testing.stripe_client()
    seller = sdk.v1.accounts.create(
        {"type": "express", "country": "FR", "capabilities": {"transfers": {"requested": True}}}
    )
    with transaction.atomic():
        accounts.apply_onboarding(seller.id, outcome="complete", business_name="Ada's Mugs")
    params = session_params(seller.id, quantity=2)
    params["success_url"] = live_server.url + "/?paid={CHECKOUT_SESSION_ID}"
    session = sdk.v1.checkout.sessions.create(params)

    page.goto(session.url)
    assert "SANDBOX" in page.content()
    assert page.locator("#checkout-total").inner_text() == "€40.00"
    page.fill("input[name=email]", "buyer@example.com")
    page.fill("input[name=card_number]", "4000 0000 0000 9995")
    page.get_by_role("button", name=re.compile("Pay")).click()
    assert page.locator("#checkout-error").inner_text() == "Your card has insufficient funds."

    page.fill("input[name=card_number]", "4000 0025 0000 3155")
    page.get_by_role("button", name=re.compile("Pay")).click()
    page.wait_for_url(re.compile(r".*/sandbox/authenticate/pi_.*"))
    page.get_by_role("button", name="Complete authentication").click()
    page.wait_for_url(live_server.url + f"/?paid={session.id}")

    done = sdk.v1.checkout.sessions.retrieve(session.id)
    assert done.status == "complete" and done.payment_status == "paid"
    assert done.customer_details.email == "buyer@example.com"
