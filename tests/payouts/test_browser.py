"""In a real browser: an admin changes a fee rule and refunds part of an order; the seller then
sees the new balance (and Stripe's, refreshed through htmx, agreeing with it)."""

from __future__ import annotations

import re

import pytest

from payouts.models import FeeRule, RefundRequest
from tests.factories import PASSWORD, StaffFactory, log_in_with_totp_in_browser
from tests.payouts.events import deliver
from tests.payouts.factories import SellerFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def log_in(page, live_server, email):
    page.goto(live_server.url + "/accounts/login/")
    page.fill("input[name=login]", email)
    page.fill("input[name=password]", PASSWORD)
    page.locator("form button[type=submit]").last.click()
    page.wait_for_url(re.compile(r".*/$"))


def test_admin_fee_rule_and_partial_refund_seller_sees_balance(
    browser, page, live_server, fake_stripe
):
    admin = StaffFactory(email="admin-browser@example.com")
    seller = SellerFactory(user__email="seller-browser@example.com")
    charge = fake_stripe.sale(account=seller.stripe_account_id, amount=2500, fee=280, order_id=77)
    deliver("charge.succeeded", charge)

    log_in_with_totp_in_browser(page, live_server.url, admin)
    page.goto(live_server.url + "/money/fees/new/")
    page.select_option("select[name=scope]", "platform")
    page.fill("input[name=bps]", "1200")
    page.check("input[name=cover_eur]")
    page.fill("input[name=fixed_eur]", "0.50")
    page.fill("input[name=note]", "new pricing")
    page.get_by_role("button", name="Save rule").click()
    page.wait_for_url(live_server.url + "/money/fees/")
    assert "new pricing" in page.content()
    assert FeeRule.objects.get().bps == 1200
    # The simulator quotes with the new rule as the amount is typed (htmx).
    page.goto(live_server.url + "/money/fees/simulate/")
    page.fill("input[name=amount]", "")
    page.locator("input[name=amount]").press_sequentially("25.00")
    page.locator("[data-testid=fee]").get_by_text("€3.50").wait_for()

    page.goto(live_server.url + f"/money/refunds/{charge['id']}/new/")
    page.fill("input[name=amount]", "10.00")
    page.select_option("select[name=reason]", "damaged")
    page.get_by_role("button", name="Refund").click()
    page.wait_for_url(live_server.url + "/money/refunds/")
    assert "Refund of €10.00 sent to Stripe." in page.content()
    assert RefundRequest.objects.get().status == "succeeded"

    seller_page = browser.new_context().new_page()
    log_in(seller_page, live_server, seller.user.email)
    seller_page.goto(live_server.url + "/money/balance/")
    # 22.20 earned, 10.00 reversed, 1.12 of the fee given back.
    assert "€13.32" in seller_page.content()
    seller_page.get_by_role("button", name="Refresh").click()
    seller_page.locator("#stripe-balance").get_by_text("Stripe balance as of").wait_for()
    html = seller_page.locator("#stripe-balance").inner_html()
    assert html.count("€13.32") >= 2 and "disagree" not in html
    seller_page.context.close()
