from __future__ import annotations

import time

import pytest

from marketplace.events import services
from marketplace.events.registry import account_providers_replaced, handlers_replaced
from marketplace.events.services import wakeup
from tests.events.signing import CONNECT_SECRET, PLATFORM_SECRET, body_of, sign

WEBHOOK_URL = "/stripe/webhook/"
CONNECT_URL = "/stripe/webhook/connect/"


@pytest.fixture(autouse=True)
def stripe_test_mode(settings):
    """Real-Stripe test mode with known webhook secrets (sandbox tests switch it back)."""
    settings.STRIPE_SANDBOX = False
    settings.STRIPE_MODE = "test"
    settings.STRIPE_WEBHOOK_SECRETS = [PLATFORM_SECRET]
    settings.STRIPE_CONNECT_WEBHOOK_SECRETS = [CONNECT_SECRET]
    settings.EVENTS_RETRY_BASE_SECONDS = 60
    settings.EVENTS_MAX_ATTEMPTS = 8
    services.sandbox_secrets_forget()
    wakeup._local_wake["at"] = -1e9
    yield
    services.sandbox_secrets_forget()


@pytest.fixture
def handlers():
    """An empty handler registry for the test: ``handlers["type"] = func`` or ``@handles``."""
    from marketplace.events import registry

    with handlers_replaced({}):
        yield registry._handlers


@pytest.fixture
def no_account_providers():
    with account_providers_replaced([]):
        yield


@pytest.fixture
def post_event(client):
    """POST a signed event like Stripe would; returns the response."""

    def post(
        event=None,
        *,
        body=None,
        url=WEBHOOK_URL,
        secret=None,
        timestamp=None,
        header=None,
        **extra,
    ):
        if body is None:
            body = body_of(event)
        if secret is None:
            secret = CONNECT_SECRET if url == CONNECT_URL else PLATFORM_SECRET
        if header is None:
            header = sign(body, secret, timestamp=timestamp)
        headers = {"HTTP_STRIPE_SIGNATURE": header} if header else {}
        return client.post(url, data=body, content_type="application/json", **headers, **extra)

    return post


def now() -> int:
    return int(time.time())
