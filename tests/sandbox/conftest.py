from __future__ import annotations

import pytest

from sandbox import testing
from tests.sandbox.receiver import RECEIVER


@pytest.fixture(autouse=True)
def _control_page_open(settings):
    # The control page is open with DEBUG (the demo); tests run with DEBUG off.
    settings.SANDBOX_CONTROL_OPEN = True


@pytest.fixture
def sdk(db):
    """A StripeClient on the in-process sandbox (2 network retries, no sleeping)."""
    return testing.stripe_client()


@pytest.fixture
def receiver(settings):
    """Webhook receivers at http://testserver/hooks/<name>/ (tests/sandbox/urls.py)."""
    settings.ROOT_URLCONF = "tests.sandbox.urls"
    RECEIVER.reset()
    yield RECEIVER
    RECEIVER.reset()


@pytest.fixture
def web(client, receiver):
    """The test client, with the webhook receivers' URLs mounted (hosted pages are posted to)."""
    return client


@pytest.fixture
def seller(sdk, web):
    """An Express account onboarded on the sandbox's hosted page (can take destination charges)."""
    from tests.sandbox.payhelpers import onboarded_account

    return onboarded_account(sdk, web)


@pytest.fixture
def hook(receiver, db):
    """``hook("platform", connect=False)`` registers an endpoint posting to /hooks/platform/."""

    def make(name: str, *, connect: bool = False, events=("*",)) -> dict:
        endpoint = testing.register_endpoint(
            f"http://testserver/hooks/{name}/", connect=connect, enabled_events=events
        )
        receiver.secrets[name] = endpoint["secret"]
        return endpoint

    return make
