"""Money events signed exactly as Stripe signs them, through the real intake and pipeline."""

from __future__ import annotations

import time

import pytest
from django.core import mail

from marketplace.events.models import StripeEvent
from payouts.models import LedgerTransaction, Payout, SellerBalance
from tests.events.signing import CONNECT_SECRET, PLATFORM_SECRET, body_of, sign
from tests.events.signing import make_event as stripe_event
from tests.payouts.factories import SellerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def real_mode_secrets(settings):
    from marketplace.events import services as event_services

    settings.STRIPE_SANDBOX = False
    settings.STRIPE_MODE = "test"
    settings.STRIPE_WEBHOOK_SECRETS = [PLATFORM_SECRET]
    settings.STRIPE_CONNECT_WEBHOOK_SECRETS = [CONNECT_SECRET]
    event_services.sandbox_secrets_forget()
    yield event_services
    event_services.sandbox_secrets_forget()


def post(client, url, event, secret):
    body = body_of(event)
    return client.post(
        url, data=body, content_type="application/json", HTTP_STRIPE_SIGNATURE=sign(body, secret)
    )


def test_signed_payout_failed_through_intake(
    client, real_mode_secrets, django_capture_on_commit_callbacks
):
    seller = SellerFactory()
    payout = {
        "id": "po_signed1",
        "object": "payout",
        "amount": 4200,
        "currency": "eur",
        "status": "failed",
        "failure_code": "no_account",
        "failure_message": "The bank account details on file are probably incorrect",
        "created": int(time.time()),
        "arrival_date": int(time.time()),
    }
    event = stripe_event("payout.failed", account=seller.stripe_account_id, obj=payout)
    with django_capture_on_commit_callbacks(execute=True):
        assert post(client, "/stripe/webhook/connect/", event, CONNECT_SECRET).status_code == 200
        real_mode_secrets.events_drain()
    assert StripeEvent.objects.get().status == StripeEvent.Status.SUCCEEDED
    assert Payout.objects.get().status == "failed"
    assert SellerBalance.objects.get(seller=seller).ledger == {"eur": 0}
    assert any("probably incorrect" in m.body for m in mail.outbox)
    # The same event forged: refused, nothing stored.
    body = body_of(event)
    forged = client.post(
        "/stripe/webhook/connect/",
        data=body,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=sign(body, "whsec_wrong"),
    )
    assert forged.status_code == 400 and StripeEvent.objects.count() == 1


def test_signed_charge_succeeded_records_the_sale(client, real_mode_secrets, fake_stripe):
    seller = SellerFactory()
    charge = fake_stripe.sale(account=seller.stripe_account_id, amount=3000, fee=330, order_id=5)
    event = stripe_event("charge.succeeded", obj=charge)
    assert post(client, "/stripe/webhook/", event, PLATFORM_SECRET).status_code == 200
    real_mode_secrets.events_drain()
    assert StripeEvent.objects.get().status == StripeEvent.Status.SUCCEEDED
    assert LedgerTransaction.objects.count() == 3
    assert SellerBalance.objects.get(seller=seller).ledger == {"eur": 2670}
