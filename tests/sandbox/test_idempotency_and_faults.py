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


def test_keys_expire_after_24_hours_on_the_sandbox_clock(sdk):
    first = sdk.v1.webhook_endpoints.create(PARAMS, options={"idempotency_key": "we-old"})
    testing.advance(hours=25)
    again = sdk.v1.webhook_endpoints.create(
        {**PARAMS, "url": "https://example.com/new"}, options={"idempotency_key": "we-old"}
    )
    assert again.id != first.id
    assert endpoint_count() == 2


def test_post_with_a_stripe_account_header_on_a_platform_only_endpoint(sdk):
    from tests.sandbox.test_accounts import create_express

    account = create_express(sdk)
    with pytest.raises(stripe.InvalidRequestError):
        sdk.v1.webhook_endpoints.create(PARAMS, options={"stripe_account": account.id})


@pytest.mark.skipif(
    "postgres" not in __import__("os").environ.get("DATABASE_URL", ""),
    reason="needs PostgreSQL (DATABASE_URL): SQLite's in-memory test database locks whole tables",
)
@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_with_one_key_create_one_object():
    import threading

    from django.db import connection

    results: list[str] = []
    errors: list[Exception] = []

    def call() -> None:
        try:
            client = testing.stripe_client(max_network_retries=5)
            endpoint = client.v1.webhook_endpoints.create(
                PARAMS, options={"idempotency_key": "race-1"}
            )
            results.append(endpoint.id)
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=call) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert len(results) == 4 and len(set(results)) == 1
    assert endpoint_count() == 1


@pytest.mark.django_db(transaction=True)
def test_database_contention_is_a_retryable_409_lock_timeout():
    from django.db import OperationalError

    from sandbox.router import ROUTES, route

    calls = []

    @route("POST", "/v1/test_helpers/contended")
    def contended(req):
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("database is locked")
        return {"object": "ok"}

    try:
        from sandbox.dispatcher import handle

        auth = {"Authorization": "Bearer sk_test_sandbox"}
        status, headers, body = handle("POST", "/v1/test_helpers/contended", auth, "")
        assert status == 409
        assert headers["Stripe-Should-Retry"] == "true"
        assert '"lock_timeout"' in body
        client = testing.stripe_client(max_network_retries=1)
        calls.clear()
        assert client.raw_request("post", "/v1/test_helpers/contended") is not None
    finally:
        ROUTES[:] = [r for r in ROUTES if r.pattern != "/v1/test_helpers/contended"]
    assert len(calls) == 2  # the SDK retried the 409
