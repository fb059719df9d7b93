"""Idempotency-Key and fault injection, seen through the real SDK and its retries."""

from __future__ import annotations

import pytest
import stripe

from sandbox import testing
from sandbox.models import SandboxObject

PARAMS = {"url": "https://example.com/hook", "enabled_events": ["*"]}


def endpoint_count() -> int:
    return SandboxObject.objects.filter(object="webhook_endpoint").count()


def test_same_key_same_params_replays_the_stored_response(sdk):
    first = sdk.v1.webhook_endpoints.create(PARAMS, options={"idempotency_key": "we-1"})
    again = sdk.v1.webhook_endpoints.create(PARAMS, options={"idempotency_key": "we-1"})
    assert again.id == first.id
    assert again.secret == first.secret
    assert endpoint_count() == 1
    headers = again.last_response.headers
    assert headers["idempotent-replayed"] == "true"
    assert headers["request-id"] == first.last_response.request_id


def test_same_key_other_params_is_an_idempotency_error(sdk):
    sdk.v1.webhook_endpoints.create(PARAMS, options={"idempotency_key": "we-2"})
    with pytest.raises(stripe.IdempotencyError) as caught:
        sdk.v1.webhook_endpoints.create(
            {**PARAMS, "url": "https://example.com/other"}, options={"idempotency_key": "we-2"}
        )
    assert caught.value.http_status == 400
    assert "we-2" in caught.value.user_message
    assert endpoint_count() == 1


def test_keys_are_scoped_per_account_and_validation_errors_are_not_stored(sdk):
    with pytest.raises(stripe.InvalidRequestError):
        sdk.v1.webhook_endpoints.create(
            {"url": "https://example.com"},  # type: ignore[typeddict-item]
            options={"idempotency_key": "we-3"},
        )
    # The failed validation did not burn the key: a correct request with it runs.
    created = sdk.v1.webhook_endpoints.create(PARAMS, options={"idempotency_key": "we-3"})
    assert created.id.startswith("we_")


def test_500s_are_retried_by_the_sdk_and_create_one_object(sdk):
    testing.fail_next(2, "500", path_prefix="/v1/webhook_endpoints")
    endpoint = sdk.v1.webhook_endpoints.create(PARAMS)
    attempts = testing.requests(path="/v1/webhook_endpoints", method="POST")
    assert [r.status for r in attempts] == [500, 500, 200]
    # The SDK generated one key and kept it across its retries.
    assert len({r.idempotency_key for r in attempts}) == 1
    assert endpoint_count() == 1
    assert endpoint.id.startswith("we_")


def test_more_failures_than_retries_surface_as_api_error(db):
    sdk = testing.stripe_client(max_network_retries=1)
    testing.fail_next(3, "500")
    with pytest.raises(stripe.APIError):
        sdk.v1.webhook_endpoints.list()
    assert len(testing.requests(path="/v1/webhook_endpoints")) == 2


def test_timeout_after_commit_is_retried_and_replayed_not_duplicated(sdk):
    testing.fail_next(1, "timeout_after", path_prefix="/v1/webhook_endpoints")
    endpoint = sdk.v1.webhook_endpoints.create(PARAMS)
    attempts = testing.requests(path="/v1/webhook_endpoints", method="POST")
    assert len(attempts) == 2
    assert attempts[1].replayed is True
    assert endpoint_count() == 1
    assert SandboxObject.objects.get(object="webhook_endpoint").id == endpoint.id


def test_timeout_without_retries_raises_the_sdks_connection_error(db):
    sdk = testing.stripe_client(max_network_retries=0)
    testing.fail_next(1, "timeout")
    with pytest.raises(stripe.APIConnectionError):
        sdk.v1.webhook_endpoints.create(PARAMS)
    assert endpoint_count() == 0


def test_429_raises_rate_limit_error(sdk):
    testing.fail_next(1, "429")
    with pytest.raises(stripe.RateLimitError):
        sdk.v1.webhook_endpoints.list()
    # The fault was used up: the next call goes through.
    assert sdk.v1.webhook_endpoints.list().object == "list"


def test_latency_is_added(sdk):
    import time

    testing.add_latency(150)
    started = time.monotonic()
    sdk.v1.webhook_endpoints.list()
    assert time.monotonic() - started >= 0.15
