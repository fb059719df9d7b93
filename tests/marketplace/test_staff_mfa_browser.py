"""In a real browser: a staff member without a second factor is sent to enrol, sets up an
authenticator app from the page's secret, and then reaches the money pages; the audit log page
fits a phone's width."""

from __future__ import annotations

import re

import pytest

from marketplace.audit.origin import audit_origin
from marketplace.audit.services import Action, audit_record
from tests.factories import PASSWORD, StaffFactory, log_in_with_totp_in_browser, totp_code

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_staff_enrol_an_authenticator_app_then_open_the_fee_rules(page, live_server):
    staff = StaffFactory(totp=False, email="new-staff@example.com")
    page.goto(live_server.url + "/accounts/login/")
    page.fill("input[name=login]", staff.email)
    page.fill("input[name=password]", PASSWORD)
    page.locator("form button[type=submit]").last.click()
    page.wait_for_url(live_server.url + "/")

    page.goto(live_server.url + "/money/fees/")
    page.wait_for_url(re.compile(r".*/accounts/2fa/"))
    assert "need two-factor authentication" in page.content()
    assert "Fee rules" not in page.locator("main h1").first.inner_text()

    page.goto(live_server.url + "/accounts/2fa/totp/activate/")
    page.wait_for_url(re.compile(r".*/reauthenticate/.*"))  # allauth asks for the password first
    page.fill("input[name=password]", PASSWORD)
    page.locator("main form button[type=submit]").first.click()
    page.wait_for_url(re.compile(r".*/accounts/2fa/totp/activate/"))
    secret = page.input_value("#authenticator_secret")
    # The QR code (an inline data: image) is shown, so a phone can scan it.
    assert page.evaluate("() => document.querySelector('main img').naturalWidth") > 0
    page.fill("input[name=code]", totp_code(secret))
    page.locator("main form button[type=submit]").first.click()
    page.wait_for_url(re.compile(r".*/accounts/2fa/recovery-codes/"))
    assert len(re.findall(r"\b\d{8}\b", page.content())) >= 10

    page.goto(live_server.url + "/money/fees/")
    assert page.url.endswith("/money/fees/")
    assert "Fee rules" in page.locator("main h1").first.inner_text()


@pytest.mark.parametrize("width", [1280, 375])
def test_audit_log_page_filters_and_fits(browser, live_server, settings, width):
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    staff = StaffFactory()
    with audit_origin(via="web", user=staff, ip_address="192.0.2.10"):
        audit_record(
            action=Action.FEE_RULE_CREATE,
            object_type="payouts.feerule",
            object_id="1",
            object_repr="Platform default: 8.00% + €0.25 from 2026-11-27",
            after={"bps": 800, "fixed_fees": {"eur": 25}, "note": "a-long-note-" * 8},
        )
        audit_record(action=Action.SELLER_SUSPEND, object_type="sellers.seller", object_id="9")
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    try:
        log_in_with_totp_in_browser(page, live_server.url, staff)
        page.goto(live_server.url + "/staff/audit/")
        assert "Fee rule set" in page.content() and "Seller suspended" in page.content()
        page.select_option("select[name=action]", "seller.suspend")
        page.locator("form.filters button").click()
        page.wait_for_function(
            "() => !document.querySelector('#audit-results').textContent.includes('Fee rule set')"
        )
        assert "Seller suspended" in page.locator("#audit-results").inner_text()
        assert "action=seller.suspend" in page.url  # the filter is in the address (htmx push)
        overflow = page.evaluate(
            "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"{overflow}px of sideways scrolling at {width}px"
    finally:
        context.close()
