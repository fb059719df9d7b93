"""Stripe's rate limit, client side (``marketplace.stripe_traffic``) and enforced by the sandbox
(``SANDBOX_RATE_LIMIT_PER_SECOND``): a burst of requests queues instead of collecting 429s,
and 429s that still come are retried after a jittered backoff."""

from __future__ import annotations

import os
import threading
import time
import uuid

import pytest
import stripe

from marketplace import stripe_gateway, stripe_traffic
from sandbox import testing

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.fixture
def gateway(settings):
    settings.STRIPE_SANDBOX = True
    settings.REDIS_URL = ""
    settings.STRIPE_RATE_LIMIT_BACKOFF_BASE = 0.05
    settings.STRIPE_RATE_LIMIT_BACKOFF_MAX = 0.2
    stripe_gateway.reset_client()
    stripe_traffic.reset()
    yield settings
    stripe_gateway.reset_client()
    stripe_traffic.reset()


def burst(n: int, threads: int = 4) -> list[BaseException]:
    """``n`` balance reads from ``threads`` threads at once, as concurrent workers would."""
    errors: list[BaseException] = []
    per_thread = n // threads

    def work() -> None:
        from django.db import connection

        try:
            for _ in range(per_thread):
                stripe_gateway.balance_retrieve()
        except BaseException as exc:  # collected for the assertion
            errors.append(exc)
        finally:
            connection.close()

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return errors


def test_the_sandbox_answers_429_like_stripe_over_its_limit(gateway):
    gateway.SANDBOX_RATE_LIMIT_PER_SECOND = 3
    gateway.STRIPE_RATE_LIMIT_PER_SECOND = 0  # no pacing
    sdk = testing.stripe_client(max_network_retries=0)
    with pytest.raises(stripe.RateLimitError) as raised:
        for _ in range(10):
            sdk.v1.balance.retrieve()
    assert raised.value.http_status == 429
    assert (raised.value.json_body or {})["error"]["code"] == "rate_limit"
    time.sleep(2.1)  # a new window: accepted again
    assert sdk.v1.balance.retrieve().object == "balance"


def test_without_pacing_a_burst_collects_429s_and_retries_them(gateway):
    gateway.SANDBOX_RATE_LIMIT_PER_SECOND = 6
    gateway.STRIPE_RATE_LIMIT_PER_SECOND = 0
    gateway.STRIPE_RATE_LIMIT_429_RETRIES = 10
    gateway.STRIPE_RATE_LIMIT_BACKOFF_MAX = 1.0
    with stripe_traffic.recording() as sent:
        errors = burst(12, threads=1)
    assert errors == []  # every read got through in the end ...
    assert sent.by_status(429) > 0  # ... after 429s, each retried after a backoff
    assert sent.by_status(200) == 12


def test_429s_past_the_retries_become_a_retryable_gateway_error(gateway):
    gateway.SANDBOX_RATE_LIMIT_PER_SECOND = 1
    gateway.STRIPE_RATE_LIMIT_PER_SECOND = 0
    gateway.STRIPE_RATE_LIMIT_429_RETRIES = 1
    stripe_gateway.balance_retrieve()
    with stripe_traffic.recording() as sent, pytest.raises(stripe_gateway.GatewayError) as raised:
        stripe_gateway.balance_retrieve()
    assert raised.value.retryable and raised.value.http_status == 429
    assert sent.by_status(429) == 2  # the request and its one retry


def test_paced_a_burst_gets_no_429_and_keeps_to_the_rate(gateway):
    gateway.SANDBOX_RATE_LIMIT_PER_SECOND = 10
    gateway.STRIPE_RATE_LIMIT_PER_SECOND = 8
    gateway.STRIPE_RATE_LIMIT_BURST = 2
    started = time.monotonic()
    with stripe_traffic.recording() as sent:
        errors = burst(24)
    elapsed = time.monotonic() - started
    assert errors == [] and sent.count == 24 and sent.by_status(429) == 0
    assert elapsed >= (24 - 2) / 8 * 0.95  # queued: 22 requests after the burst at 8/s


def test_the_local_bucket_spaces_requests_at_the_rate():
    bucket = stripe_traffic.LocalBucket(rate=100, burst=5)
    waits = [bucket.reserve() for _ in range(25)]
    assert waits[:5] == [0.0] * 5  # the burst goes at once
    assert waits[-1] == pytest.approx(0.20, abs=0.02)  # then one every 10 ms


@pytest.mark.skipif(
    not os.environ.get("REDIS_URL"),
    reason="needs Redis (REDIS_URL): the bucket shared by processes",
)
def test_the_redis_bucket_is_one_schedule_for_every_process():
    key = f"stripe:ratelimit:test-{uuid.uuid4().hex}"
    url = os.environ["REDIS_URL"]
    # Two buckets on one key stand for two processes (a web worker and a Celery worker).
    first = stripe_traffic.RedisBucket(url, key, rate=50, burst=2)
    second = stripe_traffic.RedisBucket(url, key, rate=50, burst=2)
    waits = [b.reserve() for _ in range(10) for b in (first, second)]
    assert waits[:2] == [0.0, 0.0]
    # 20 slots at 50/s after a burst of 2: the last waits about 18 intervals of 20 ms.
    assert waits[-1] == pytest.approx(0.36, abs=0.05)
    assert waits == sorted(waits)


def test_every_request_of_the_gateway_is_counted(gateway):
    with stripe_traffic.recording() as sent:
        stripe_gateway.balance_retrieve()
        with pytest.raises(stripe_gateway.GatewayError):
            stripe_gateway.charge_retrieve(charge_id="ch_missing")
    assert sent.endpoints() == ["GET /v1/balance", "GET /v1/charges/{id}"]
    assert sent.requests[1].status == 404
    assert stripe_traffic.totals()["GET /v1/balance"] >= 1


def test_nested_recordings_each_see_every_request():
    from marketplace.stripe_traffic import Request, _record

    with stripe_traffic.recording() as outer:
        with stripe_traffic.recording() as inner:  # equal contents: still two recorders
            _record(Request("GET", "/v1/balance", 200, 0.0))
        _record(Request("GET", "/v1/balance", 200, 0.0))
    assert (len(outer), len(inner)) == (2, 1)
