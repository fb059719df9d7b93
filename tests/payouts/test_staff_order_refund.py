"""Staff refund one seller's order of a several-seller purchase from the refunds page, through
the seller's own path (a refund of that amount of the one charge, then a reversal of that
seller's transfer), end to end through the sandbox and signed webhooks."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from buyers.models import Purchase
from marketplace import stripe_gateway
from marketplace.audit.models import AuditEntry
from payouts.checks import ledger_violations
from payouts.models import LedgerTransaction, RefundRequest
from tests.buyers.test_sandbox_payments import buyer_client, pay, sandbox  # noqa: F401
from tests.factories import StaffFactory, log_in_with_totp
from tests.payouts.test_e2e_cart import checkout_cart, two_shops  # noqa: F401

pytestmark = [pytest.mark.django_db(transaction=True)]


def hidden_fields(html: str) -> dict[str, str]:
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html))


def test_staff_refund_one_sellers_order_of_a_cart(two_shops, buyer_client, mailoutbox):  # noqa: F811
    mug, vase = two_shops
    pay(buyer_client, checkout_cart(buyer_client, [(mug, 2), (vase, 1)]), "4242 4242 4242 4242")
    purchase = Purchase.objects.get()
    mugs = purchase.orders.get(seller=mug.seller)
    vases = purchase.orders.get(seller=vase.seller)
    staff = StaffFactory()
    client = log_in_with_totp(Client(), staff)

    # The charge's refund page lists its sellers' orders instead of refunding the whole charge.
    page = client.get(f"/money/refunds/{purchase.charge_id}/new/").content.decode()
    order_url = f"/money/refunds/orders/{mugs.pk}/new/"
    assert order_url in page and f"/money/refunds/orders/{vases.pk}/new/" in page
    assert 'name="amount"' not in page

    form = client.get(order_url).content.decode()
    token = re.search(r'name="client_token" value="([0-9a-f-]{36})"', form).group(1)
    too_much = client.post(
        order_url,
        {"client_token": token, "how": "amount", "amount": "50.01", "reason": "damaged"},
    )
    assert too_much.status_code == 400
    assert "At most €50.00 can still be refunded on this order." in too_much.content.decode()
    review = client.post(
        order_url, {"client_token": token, "how": "amount", "amount": "10.00", "reason": "damaged"}
    )
    html = review.content.decode()
    assert review.status_code == 200 and "Confirm the refund" in html
    # 4470 of 5000 transferred: 10.00 refunded takes 8.94 back from the seller.
    assert 'class="refund-share">€8.94<' in html
    mailoutbox.clear()
    done = client.post(order_url, {**hidden_fields(html), "confirm": "1"})
    assert done.status_code == 302 and done["Location"] == "/money/refunds/"

    mugs.refresh_from_db()
    vases.refresh_from_db()
    assert mugs.refunded_amount == 1000 and vases.refunded_amount == 0
    assert stripe_gateway.client().v1.charges.retrieve(purchase.charge_id).amount_refunded == 1000
    request = RefundRequest.objects.get()
    assert request.requested_by == staff and request.reversal_status == "done"
    assert request.reversal_amount == 894
    reversal = LedgerTransaction.objects.get(kind="transfer_reversal")
    assert reversal.seller == mug.seller
    audit = AuditEntry.objects.get(action="refund", actor_id=staff.pk)
    assert audit.after["order_id"] == mugs.pk and audit.after["amount"] == 1000
    assert any(m.to == ["mugs@example.com"] and "refunded" in m.subject for m in mailoutbox)
    assert not any(m.to == ["vases@example.com"] for m in mailoutbox)
    assert list(ledger_violations()) == []

    # Only staff: the seller (whose own path is the sale page) and the other seller get a 404.
    for user in (mug.seller.user, vase.seller.user):
        other = Client()
        other.force_login(user)
        assert other.get(order_url).status_code == 404
        assert other.post(order_url, {**hidden_fields(html), "confirm": "1"}).status_code == 404
    assert RefundRequest.objects.count() == 1
