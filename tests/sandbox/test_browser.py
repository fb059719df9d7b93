"""The sandbox's hosted onboarding page and control page in headless Chromium."""

from __future__ import annotations

import pytest

from sandbox import clock, testing

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_onboarding_page_and_control_page_in_a_browser(page, live_server, settings):
    settings.SITE_URL = live_server.url
    settings.SANDBOX_WEBHOOK_DELIVERY = "manual"
    sdk = testing.stripe_client()
    account = sdk.v1.accounts.create(
        {"type": "express", "country": "FR", "capabilities": {"transfers": {"requested": True}}}
    )
    link = sdk.v1.account_links.create(
        {
            "account": account.id,
            "type": "account_onboarding",
            "refresh_url": live_server.url + "/?refresh=1",
            "return_url": live_server.url + "/?done=1",
        }
    )
    assert link.url.startswith(live_server.url)
    page.goto(link.url)
    assert page.get_by_role("alert").inner_text().startswith("SANDBOX")
    page.fill("input[name=business_name]", "Ana's Ceramics")
    page.get_by_label("Submitted, verification pending").check()
    page.get_by_role("button", name="Submit").click()
    page.wait_for_url("**/?done=1")
    onboarded = sdk.v1.accounts.retrieve(account.id)
    assert onboarded.details_submitted is True
    assert onboarded.requirements.pending_verification == ["individual.verification.document"]

    # The link worked once: opening it again lands on refresh_url.
    page.goto(link.url)
    page.wait_for_url("**/?refresh=1")

    page.goto(live_server.url + "/sandbox/")
    assert account.id in page.locator("#panel-accounts").inner_text()
    before = clock.now()
    page.get_by_role("button", name="+1 hour").click()
    page.get_by_text("Clock advanced by 3600 s").wait_for()
    assert clock.now() - before >= 3600
    # Advancing ran the verification job: the account is enabled now.
    assert sdk.v1.accounts.retrieve(account.id).charges_enabled is True
