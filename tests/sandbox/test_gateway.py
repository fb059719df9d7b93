"""The project's gateway reaches the sandbox when no STRIPE_SECRET_KEY is set."""

from __future__ import annotations

import pytest

from marketplace import stripe_gateway
from tests.sandbox.test_accounts import create_express


@pytest.fixture(autouse=True)
def _fresh_client():
    stripe_gateway.reset_client()
    yield
    stripe_gateway.reset_client()


def test_gateway_reads_a_sandbox_account(sdk):
    account = create_express(sdk)
    fetched = stripe_gateway.account_retrieve(account_id=account.id)
    assert fetched.id == account.id
    assert fetched.charges_enabled is False


def test_gateway_translates_sandbox_errors(db):
    with pytest.raises(stripe_gateway.GatewayError) as caught:
        stripe_gateway.account_retrieve(account_id="acct_missing")
    assert caught.value.code == "resource_missing"
    assert caught.value.http_status == 404
    assert caught.value.retryable is False
