"""Sandbox mode: our endpoints are registered with the sandbox and intake accepts its secrets.

These tests stand the sandbox's ``webhook_endpoints`` API in with the suite's in-memory Stripe at
the gateway boundary (``fake_stripe``); ``test_sandbox_integration.py`` runs the same flow against
the real sandbox.
"""

from __future__ import annotations

import pytest

from marketplace import stripe_gateway
from marketplace.events import services
from marketplace.events.models import StripeEvent, WebhookEndpoint
from tests.events.conftest import CONNECT_URL, WEBHOOK_URL
from tests.events.signing import make_event

pytestmark = pytest.mark.django_db


@pytest.fixture
def sandbox(settings, fake_stripe):
    settings.STRIPE_SANDBOX = True
    settings.STRIPE_MODE = "sandbox"
    settings.STRIPE_WEBHOOK_SECRETS = []
    settings.STRIPE_CONNECT_WEBHOOK_SECRETS = []
    settings.SITE_URL = "http://testserver"
    services.sandbox_secrets_forget()
    return fake_stripe


def test_ensure_registers_both_endpoints_once(sandbox):
    first = services.webhook_endpoints_ensure_sandbox()
    second = services.webhook_endpoints_ensure_sandbox()
    assert {k: e.url for k, e in first.items()} == {
        "platform": "http://testserver/stripe/webhook/",
        "connect": "http://testserver/stripe/webhook/connect/",
    }
    assert first == second
    creates = sandbox.calls_of("webhook_endpoint_create")
    assert [c["connect"] for c in creates] == [False, True]
    assert WebhookEndpoint.objects.count() == 2


def test_ensure_replaces_an_endpoint_the_sandbox_lost(sandbox):
    services.webhook_endpoints_ensure_sandbox()
    sandbox.endpoints.clear()  # the sandbox's database was reset
    again = services.webhook_endpoints_ensure_sandbox()
    assert set(sandbox.endpoints) == {e.stripe_id for e in again.values()}
    assert WebhookEndpoint.objects.count() == 2
    assert [c["generation"] for c in sandbox.calls_of("webhook_endpoint_create")][2:] != [0, 0]


def test_intake_registers_lazily_and_accepts_the_generated_secrets(sandbox, post_event):
    event = make_event()
    endpoints = {}

    # First delivery: no secret known yet, intake registers the endpoints and verifies.
    def secret_for(kind):
        if not endpoints:
            endpoints.update(services.webhook_endpoints_ensure_sandbox())
            services.sandbox_secrets_forget()
        return endpoints[kind].secret

    assert post_event(event, secret=secret_for("platform")).status_code == 200
    connect_event = make_event(account="acct_1")
    response = post_event(connect_event, url=CONNECT_URL, secret=secret_for("connect"))
    assert response.status_code == 200
    assert StripeEvent.objects.count() == 2
    # The secrets are cached in-process: later deliveries make no registry calls.
    calls = len(sandbox.calls)
    assert post_event(make_event(), secret=secret_for("platform")).status_code == 200
    assert len(sandbox.calls) == calls
    # A platform secret is still refused on the Connect endpoint.
    assert (
        post_event(make_event(), url=CONNECT_URL, secret=secret_for("platform")).status_code == 400
    )


def test_first_delivery_triggers_registration(sandbox, post_event):
    """Intake itself calls ensure when no endpoint is stored for SITE_URL."""
    response = post_event(make_event(), url=WEBHOOK_URL, secret="whsec_unknown")
    assert response.status_code == 400  # signed with a secret the sandbox never issued
    assert WebhookEndpoint.objects.count() == 2
    platform = WebhookEndpoint.objects.get(kind="platform")
    assert post_event(make_event(), secret=platform.secret).status_code == 200


def test_sandbox_unavailable_intake_still_answers(settings, sandbox, post_event, caplog):
    sandbox.fail["webhook_endpoint_create"] = stripe_gateway.GatewayError(
        "The Stripe sandbox is not available yet."
    )
    settings.STRIPE_WEBHOOK_SECRETS = ["whsec_from_settings"]
    assert post_event(make_event(), secret="whsec_from_settings").status_code == 200
    assert any("could not register webhook endpoints" in r.getMessage() for r in caplog.records)


def test_ensure_refuses_with_real_stripe(settings):
    settings.STRIPE_SANDBOX = False
    with pytest.raises(stripe_gateway.GatewayError, match="only with the sandbox"):
        services.webhook_endpoints_ensure_sandbox()


def test_sandbox_default_endpoint_with_configured_secret_is_not_duplicated(settings, sandbox):
    """The sandbox may register our URL itself with a secret settings know: keep that one."""
    settings.STRIPE_WEBHOOK_SECRETS = ["whsec_sandbox_platform_default"]
    sandbox.webhook_endpoint_create(url="http://testserver/stripe/webhook/", connect=False)
    sandbox.calls.clear()
    result = services.webhook_endpoints_ensure_sandbox()
    assert set(result) == {"connect"}
    assert [c["url"] for c in sandbox.calls_of("webhook_endpoint_create")] == [
        "http://testserver/stripe/webhook/connect/"
    ]


def test_no_lazy_registration_when_secrets_are_configured(settings, sandbox, post_event):
    settings.STRIPE_WEBHOOK_SECRETS = ["whsec_sandbox_platform_default"]
    settings.STRIPE_CONNECT_WEBHOOK_SECRETS = ["whsec_sandbox_connect_default"]
    assert post_event(make_event(), secret="whsec_sandbox_platform_default").status_code == 200
    assert sandbox.calls == []
    assert not WebhookEndpoint.objects.exists()
