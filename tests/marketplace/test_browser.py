"""Smoke test of the browser set-up: sign up and log in through real pages in headless Chromium."""

from __future__ import annotations

import re

import pytest
from django.core import mail

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_sign_up_verify_and_land_on_home(page, live_server, settings):
    page.goto(live_server.url + "/")
    page.get_by_role("link", name="Sign up").first.click()
    page.fill("input[name=email]", "browser@example.com")
    page.fill("input[name=password1]", "a-long-browser-pass-1")
    page.fill("input[name=password2]", "a-long-browser-pass-1")
    page.locator("form button[type=submit]").last.click()
    page.wait_for_url(re.compile(r".*/accounts/confirm-email/.*"))
    link = re.search(r"https?://[^/\s]+(/accounts/confirm-email/\S+)", mail.outbox[-1].body)
    assert link
    page.goto(live_server.url + link.group(1))
    page.locator("form button[type=submit]").last.click()
    page.wait_for_url(live_server.url + "/")
    assert "browser@example.com" in page.content()
