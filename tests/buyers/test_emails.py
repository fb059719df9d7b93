from __future__ import annotations

import pytest

from buyers.emails import EMAILS, send_order_email
from buyers.models import Order
from buyers.services import order_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def order(buyer, listing):
    order = order_create(buyer=buyer, listing_id=listing.pk, quantity=2)
    Order.objects.filter(pk=order.pk).update(
        status=Order.Status.PAID, receipt_url="https://pay.stripe.test/receipts/ch_1"
    )
    order.refresh_from_db()
    return order


@pytest.mark.parametrize("kind", sorted(EMAILS))
def test_every_email_has_text_and_html(order, kind, mailoutbox, settings):
    settings.SITE_URL = "https://shop.example.com"
    send_order_email(order_id=order.pk, kind=kind)
    (mail,) = mailoutbox
    assert f"#{order.pk}" in mail.subject and "Blue mug" in mail.subject
    (html, mime) = mail.alternatives[0]
    assert mime == "text/html" and "<p>" in html and "<p>" not in mail.body
    assert "€50.00" in mail.body and "€50.00" in html
    if EMAILS[kind].to_seller:
        assert mail.to == ["seller@example.com"]
        assert f"https://shop.example.com/sales/{order.pk}/" in mail.body
        assert "€44.70" in mail.body  # the seller's share: 50.00 - (5.00 + 0.30)
    else:
        assert mail.to == ["buyer@example.com"]
        assert f"https://shop.example.com/orders/{order.pk}/" in mail.body


def test_paid_email_links_the_receipt(order, mailoutbox):
    send_order_email(order_id=order.pk, kind="order_paid_buyer")
    assert "https://pay.stripe.test/receipts/ch_1" in mailoutbox[0].body


def test_text_email_is_not_html_escaped(buyer, seller, mailoutbox):
    from tests.buyers.factories import ListingFactory

    listing = ListingFactory(seller=seller, title="Tom & Jerry's <mug>")
    order = order_create(buyer=buyer, listing_id=listing.pk, quantity=1)
    send_order_email(order_id=order.pk, kind="order_payment_failed")
    assert "Tom & Jerry's <mug>" in mailoutbox[0].body
    assert "Tom &amp; Jerry&#x27;s &lt;mug&gt;" in mailoutbox[0].alternatives[0][0]


def test_a_partial_refund_says_partly_refunded_and_names_nobody(order, mailoutbox):
    Order.objects.filter(pk=order.pk).update(refunded_amount=1500)
    send_order_email(order_id=order.pk, kind="order_refunded_buyer")
    (mail,) = mailoutbox
    assert "partly refunded (€15.00 back)" in mail.subject
    assert "€15.00 of €50.00" in mail.body
    # Staff or the seller may have made it: the email does not say the seller did.
    assert "refunded €" not in mail.body
