"""Paying an order by SEPA Direct Debit (a delayed payment method) on the sandbox's hosted page,
through the real event pipeline: ``checkout.session.completed`` arrives ``unpaid`` and the order
waits, stock still reserved, until the sandbox clock settles the debit
(``checkout.session.async_payment_succeeded`` / ``failed``)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from buyers import services
from buyers.models import Order, Purchase
from marketplace import stripe_gateway
from marketplace.events.models import StripeEvent
from sandbox import testing
from tests.buyers.sandbox_support import SHIPPING_FIELDS
from tests.buyers.test_sandbox_payments import (  # noqa: F401  (fixtures)
    buy,
    buyer_client,
    path_of,
    sandbox,
    shop,
    stock,
)

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.fixture
def sepa_enabled(settings):
    # The platform's payment method settings (Stripe's Dashboard): SEPA offered for EUR.
    settings.SANDBOX_PAYMENT_METHOD_TYPES = ["card", "sepa_debit"]
    settings.SANDBOX_ASYNC_PAYMENT_DELAY = 600


def pay_by_sepa(client, checkout_path, iban):
    page = client.get(checkout_path)
    assert page.status_code == 200 and 'id="pay-sepa"' in page.content.decode()
    return client.post(
        checkout_path,
        {
            "method": "sepa_debit",
            "email": "buyer@example.com",
            "name": "Ada Buyer",
            "iban": iban,
            **SHIPPING_FIELDS,
        },
    )


def event_status(event_type):
    return StripeEvent.objects.get(type=event_type).status


def test_sepa_order_stays_pending_until_the_debit_succeeds(
    sepa_enabled,
    shop,  # noqa: F811
    buyer_client,  # noqa: F811
    mailoutbox,
):
    checkout_path = buy(buyer_client, shop, quantity=2)
    response = pay_by_sepa(buyer_client, checkout_path, "DE89370400440532013000")
    assert response.status_code == 302
    assert response["Location"].startswith("http://testserver/checkout/success/?session_id=cs_")

    # Completed but unpaid: the order waits, the units stay reserved, nobody is emailed yet.
    assert event_status("checkout.session.completed") == StripeEvent.Status.SUCCEEDED
    order = Order.objects.get()
    assert order.status == Order.Status.PENDING and stock(shop) == (2, 0)
    assert order.payment_processing_since is not None
    # Held for the time the bank may take, not for the 30 minutes of a card checkout.
    assert order.expires_at > timezone.now() + timedelta(days=13)
    page = buyer_client.get(path_of(response["Location"]), follow=True).content.decode()
    assert "Your bank payment (SEPA Direct Debit) is on its way" in page
    assert "Bank payment processing" in page and "hx-trigger" not in page  # no polling
    assert "Cancel order" not in page and "Continue to payment" not in page
    assert Order.objects.get().status == Order.Status.PENDING
    assert mailoutbox == []
    # The debit is in flight: the buyer can neither cancel nor pay again.
    detail = reverse("buyers:order_detail", args=[order.pk])
    page = buyer_client.post(reverse("buyers:order_cancel", args=[order.pk]), follow=True)
    assert "cannot be canceled" in page.content.decode()
    page = buyer_client.post(reverse("buyers:order_pay", args=[order.pk]), follow=True)
    assert "already on its way" in page.content.decode() and page.redirect_chain[-1][0] == detail
    assert Order.objects.get().status == Order.Status.PENDING and stock(shop) == (2, 0)

    # The stale-order job leaves it alone while the bank works (no call to Stripe) ...
    calls = len(testing.requests())
    assert services.orders_expire_stale() == 0
    assert len(testing.requests()) == calls
    # ... and past even that window it asks Stripe, which still says processing: kept.
    Purchase.objects.filter(orders=order.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert services.orders_expire_stale() == 0
    order.refresh_from_db()
    assert order.status == Order.Status.PENDING and stock(shop) == (2, 0)
    assert order.expires_at > timezone.now() + timedelta(days=13)

    testing.advance(minutes=5)  # not due yet
    assert Order.objects.get().status == Order.Status.PENDING and stock(shop) == (2, 0)

    testing.advance(minutes=6)  # the bank confirms the debit
    assert event_status("checkout.session.async_payment_succeeded") == (
        StripeEvent.Status.SUCCEEDED
    )
    order.refresh_from_db()
    assert order.status == Order.Status.PAID and stock(shop) == (0, 2)
    sdk = stripe_gateway.client()
    charge = sdk.v1.charges.retrieve(order.charge_id)
    assert charge.status == "succeeded" and charge.payment_method_details.type == "sepa_debit"
    assert sdk.v1.transfers.retrieve(order.transfer_id).amount == order.amount == 5000
    fee = sdk.v1.application_fees.retrieve(order.application_fee_id)
    assert fee.amount == order.application_fee_amount
    assert {m.to[0] for m in mailoutbox} == {"buyer@example.com", "seller@example.com"}


def test_sepa_debit_failing_fails_the_order_and_tells_the_buyer(
    sepa_enabled,
    shop,  # noqa: F811
    buyer_client,  # noqa: F811
    mailoutbox,
):
    checkout_path = buy(buyer_client, shop)
    assert pay_by_sepa(buyer_client, checkout_path, "DE62370400440532013001").status_code == 302
    order = Order.objects.get()
    assert order.status == Order.Status.PENDING and stock(shop) == (1, 0)

    testing.advance(minutes=11)  # the bank returns the debit
    assert event_status("checkout.session.async_payment_failed") == (StripeEvent.Status.SUCCEEDED)
    order.refresh_from_db()
    assert order.status == Order.Status.FAILED and stock(shop) == (0, 0)
    assert order.charge_id == "" or order.charge_id is None
    [mail] = mailoutbox
    assert mail.to == ["buyer@example.com"] and "Payment failed" in mail.subject
    page = buyer_client.get(reverse("buyers:order_detail", args=[order.pk]))
    assert page.status_code == 200 and "The payment failed" in page.content.decode()
    # Nothing moved to the seller.
    sdk = stripe_gateway.client()
    assert sdk.v1.transfers.list().data == []
