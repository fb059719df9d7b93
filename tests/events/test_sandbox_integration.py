"""The pipeline against the real sandbox: endpoint registration, signed deliveries, recovery.

Runs once the sandbox app is available (``sandbox.testing``); skipped before it lands.
"""

from __future__ import annotations

import importlib.util
from datetime import timedelta

import pytest
from django.utils import timezone

from marketplace import stripe_gateway
from marketplace.events import services
from marketplace.events.models import StripeEvent
from marketplace.events.registry import account_providers_replaced

pytestmark = [
    pytest.mark.skipif(
        importlib.util.find_spec("sandbox.testing") is None,
        reason="the sandbox (sandbox.testing) has not landed in this branch yet",
    ),
    pytest.mark.django_db,
]


EXPRESS = {
    "type": "express",
    "country": "FR",
    "capabilities": {"transfers": {"requested": True}, "card_payments": {"requested": True}},
}


@pytest.fixture
def real_sandbox(settings):
    settings.STRIPE_SANDBOX = True
    settings.STRIPE_MODE = "sandbox"
    settings.STRIPE_SECRET_KEY = ""
    settings.STRIPE_WEBHOOK_SECRETS = []
    settings.STRIPE_CONNECT_WEBHOOK_SECRETS = []
    settings.SITE_URL = "http://testserver"
    settings.SANDBOX_WEBHOOK_DELIVERY = "inline"
    settings.SANDBOX_DEFAULT_ENDPOINTS = False
    stripe_gateway.reset_client()
    services.sandbox_secrets_forget()
    yield stripe_gateway.client()
    stripe_gateway.reset_client()


def test_endpoints_registered_with_the_sandbox_receive_signed_deliveries(
    real_sandbox, django_capture_on_commit_callbacks
):
    endpoints = services.webhook_endpoints_ensure_sandbox()
    assert set(endpoints) == {"platform", "connect"}
    assert all(e.secret.startswith("whsec_") for e in endpoints.values())
    assert services.webhook_endpoints_ensure_sandbox() == endpoints  # idempotent

    with django_capture_on_commit_callbacks(execute=True):
        customer = real_sandbox.v1.customers.create(params={"email": "buyer@example.com"})
    stored = StripeEvent.objects.get(type="customer.created")
    assert stored.data_object["id"] == customer.id
    assert stored.source == "platform"
    assert stored.account == ""

    with django_capture_on_commit_callbacks(execute=True):
        account = real_sandbox.v1.accounts.create(params=EXPRESS)
        real_sandbox.v1.customers.create(
            params={"email": "c@example.com"}, options={"stripe_account": account.id}
        )
    connect = StripeEvent.objects.get(type="customer.created", account=account.id)
    assert connect.source == "connect"


def test_recovery_stores_events_the_sandbox_never_delivered(real_sandbox):
    from sandbox import testing

    real_sandbox.v1.customers.create(params={"email": "missed@example.com"})
    account = real_sandbox.v1.accounts.create(params=EXPRESS)
    real_sandbox.v1.customers.create(
        params={"email": "c@example.com"}, options={"stripe_account": account.id}
    )
    platform_events = {e["id"] for e in testing.events(account="")}
    account_events = {e["id"] for e in testing.events(account=account.id)}
    assert platform_events and account_events
    assert not StripeEvent.objects.exists()  # no endpoint: nothing was delivered

    since = timezone.now() - timedelta(minutes=5)
    with account_providers_replaced([lambda: [account.id]]):
        result = services.events_recover(since=since)
        assert services.events_recover(since=since).stored == 0  # idempotent
    assert result.errors == []
    assert result.stored == len(platform_events | account_events)
    recovered = StripeEvent.objects.filter(source="recovered")
    assert set(recovered.values_list("stripe_id", flat=True)) == platform_events | account_events
    assert set(
        recovered.filter(stripe_id__in=account_events).values_list("account", flat=True)
    ) == {account.id}


def test_recovery_lists_connected_accounts_through_stripe_without_a_provider(real_sandbox):
    from sandbox import testing

    account = real_sandbox.v1.accounts.create(params=EXPRESS)
    real_sandbox.v1.customers.create(
        params={"email": "c@example.com"}, options={"stripe_account": account.id}
    )
    with account_providers_replaced([]):
        result = services.events_recover(since=timezone.now() - timedelta(minutes=5))
    assert result.accounts >= 1
    for event in testing.events(account=account.id):
        assert StripeEvent.objects.get(stripe_id=event["id"]).account == account.id
