"""Headless Chromium: one click with a saved card whose bank asks for 3-D Secure on every
charge (4000 0027 6000 3184) on our own payment page (``CHECKOUT_UI=elements``). The server
confirms the intent, answers ``requires_action`` with its client secret, and the page runs
``handleNextAction``: the challenge failed shows the bank's message and charges nothing, then
completed pays the order once."""

from __future__ import annotations

import re

import pytest

from buyers.models import Order, Purchase
from marketplace import stripe_gateway
from tests.buyers.test_browser import _unhashed_static  # noqa: F401
from tests.buyers.test_onsite_browser import (  # noqa: F401
    buy_now,
    buyer,
    error_text,
    fill_card,
    lands_on_paid_order,
    mug,
    onsite_live,
    pay,
    seller,
    stock,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def challenge(page, answer):
    page.get_by_role("dialog", name="SANDBOX 3-D Secure").get_by_role("button", name=answer).click()


def test_one_click_card_asking_for_3d_secure(page, onsite_live, buyer, mug):  # noqa: F811
    page.set_default_timeout(60_000)
    buy_now(page, onsite_live, mug)
    fill_card(page, "4000 0027 6000 3184")
    page.get_by_label("Save this card for next time").check()
    pay(page)
    challenge(page, "Complete")
    lands_on_paid_order(page, onsite_live)

    buy_now(page, onsite_live, mug)
    one_click = page.get_by_role("button", name=re.compile(r"with Visa ending 3184"))
    one_click.click()
    challenge(page, "Fail")
    page.wait_for_url(re.compile(r".*/purchases/\d+/payment/\?failed=1$"))
    assert "authentication" in error_text(page)
    second = Purchase.objects.order_by("-pk").first()
    assert second.status == Purchase.Status.PENDING and stock(mug) == (1, 1)

    page.get_by_role("button", name=re.compile(r"with Visa ending 3184")).click()
    challenge(page, "Complete")
    lands_on_paid_order(page, onsite_live)
    assert stock(mug) == (0, 2)
    second.refresh_from_db()
    assert second.status == Purchase.Status.PAID
    assert Order.objects.filter(status=Order.Status.PAID).count() == 2
    charges = stripe_gateway.client().v1.charges.list({"payment_intent": second.payment_intent_id})
    assert [c.status for c in charges.data] == ["succeeded"]
