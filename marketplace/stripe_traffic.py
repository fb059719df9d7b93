"""Every request the gateway sends to Stripe: counted, paced under Stripe's rate limit, and
retried with jittered backoff when Stripe still answers 429.

``stripe_gateway.build_client()`` hands its HTTP client to ``instrument()``, so every attempt
of every request (the SDK's own retries included) passes through ``_send`` here, whichever
gateway function made it. No ``import stripe``: the HTTP client is the SDK's, wrapped in place.

- **Counting.** ``recording()`` collects the requests made while it is open (tests and
  ``bench/stripe_requests.py`` assert requests per user action); ``totals()`` counts every
  request of the process by method and path template (operators: ``stripe_traffic`` log lines).
- **Pacing.** A GCRA token bucket (``STRIPE_RATE_LIMIT_PER_SECOND`` sustained, bursts of
  ``STRIPE_RATE_LIMIT_BURST``) shared by every process through Redis when ``REDIS_URL`` is set,
  in-process otherwise. A request over the rate waits for its slot instead of collecting a 429:
  bursts of webhooks or a reconciliation run queue. Stripe documents 100 requests/s in live mode
  and 25 in test mode per account; the defaults (90 + 10, 22 + 3) keep any one second under them.
- **429s that still arrive** (another client on the same Stripe account, a stricter per-endpoint
  limit) are retried up to ``STRIPE_RATE_LIMIT_429_RETRIES`` times after a full-jitter
  exponential backoff (0.5 s, 1 s, 2 s ... capped at ``STRIPE_RATE_LIMIT_BACKOFF_MAX``); a 429
  means Stripe did not run the request, and POSTs carry idempotency keys, so a retry is safe.
  After the last one the SDK raises its ``RateLimitError`` (the gateway's retryable
  ``GatewayError``).
"""

from __future__ import annotations

import logging
import random
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

from django.conf import settings

logger = logging.getLogger("marketplace.stripe_traffic")

# Documented by Stripe (docs.stripe.com/rate-limits): requests per second per account.
STRIPE_LIVE_LIMIT = 100
STRIPE_TEST_LIMIT = 25

_ID = re.compile(r"/(?:[a-z]{2,6}_[A-Za-z0-9_]+)")


def path_template(path: str) -> str:
    """``/v1/charges/ch_123/refunds`` -> ``/v1/charges/{id}/refunds`` (query dropped)."""
    return _ID.sub("/{id}", urlsplit(path).path)


@dataclass(frozen=True)
class Request:
    method: str
    path: str  # the URL path (no host, no query)
    status: int  # 0: no answer (connection error)
    waited: float  # seconds spent waiting for a rate-limit slot

    @property
    def endpoint(self) -> str:
        return f"{self.method} {path_template(self.path)}"


@dataclass(eq=False)  # by identity: nested recordings with equal requests are still two
class Recorder:
    """The requests made while ``recording()`` was open, in order (every attempt)."""

    requests: list[Request] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.requests)

    @property
    def count(self) -> int:
        return len(self.requests)

    def endpoints(self) -> list[str]:
        return [r.endpoint for r in self.requests]

    def by_status(self, status: int) -> int:
        return sum(1 for r in self.requests if r.status == status)

    def clear(self) -> None:
        self.requests.clear()


_lock = threading.Lock()
_recorders: list[Recorder] = []
_totals: Counter[str] = Counter()


@contextmanager
def recording() -> Iterator[Recorder]:
    """Collect the Stripe requests of this process (all threads) while the block runs."""
    recorder = Recorder()
    with _lock:
        _recorders.append(recorder)
    try:
        yield recorder
    finally:
        with _lock:
            _recorders.remove(recorder)


def totals() -> dict[str, int]:
    """Requests sent by this process since it started, by ``METHOD /path/{id}`` (429s included)."""
    with _lock:
        return dict(_totals)


def _record(request: Request) -> None:
    with _lock:
        _totals[request.endpoint] += 1
        for recorder in _recorders:
            recorder.requests.append(request)


# --- The shared token bucket --------------------------------------------------------------------


class Bucket(Protocol):
    def reserve(self) -> float:
        """Take the next slot; return how many seconds to wait before using it (0: now)."""


class LocalBucket:
    """GCRA in one process (no Redis): slots are reserved under a lock, in arrival order."""

    def __init__(self, rate: float, burst: int) -> None:
        self.interval = 1.0 / rate
        self.tolerance = self.interval * max(burst - 1, 0)
        self._tat = 0.0  # theoretical arrival time of the next request
        self._lock = threading.Lock()

    def reserve(self) -> float:
        with self._lock:
            now = time.monotonic()
            tat = max(self._tat, now)
            wait = max(tat - self.tolerance - now, 0.0)
            self._tat = tat + self.interval
            return wait


# GCRA on the Redis server's clock, atomically: one round trip per request, every process and
# host sharing one schedule. Times are microseconds; the key expires once the bucket is full.
_GCRA_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local wait = tat - tolerance - now
if wait < 0 then wait = 0 end
local new_tat = tat + interval
redis.call('SET', KEYS[1], string.format('%d', new_tat), 'PX', math.ceil((new_tat - now) / 1000) + 1000)
return wait
"""


class RedisBucket:
    """The same GCRA, its state in Redis: shared by every web and worker process."""

    def __init__(self, url: str, key: str, rate: float, burst: int) -> None:
        import redis

        self.key = key
        self.interval = int(1_000_000 / rate)
        self.tolerance = self.interval * max(burst - 1, 0)
        self._redis = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self._script = self._redis.register_script(_GCRA_LUA)
        self._fallback = LocalBucket(rate, burst)

    def reserve(self) -> float:
        try:
            wait = self._script(keys=[self.key], args=[self.interval, self.tolerance])
        except Exception as exc:  # Redis down: pace this process alone rather than not at all
            logger.warning("Stripe rate limit: Redis unavailable (%s); pacing in-process", exc)
            return self._fallback.reserve()
        return int(wait) / 1_000_000


def limits() -> tuple[float, int]:
    """(requests per second, burst) from settings; a rate of 0 turns pacing off."""
    rate = float(getattr(settings, "STRIPE_RATE_LIMIT_PER_SECOND", 0) or 0)
    burst = int(getattr(settings, "STRIPE_RATE_LIMIT_BURST", 1) or 1)
    return rate, max(burst, 1)


_bucket_lock = threading.Lock()
_bucket: tuple[tuple[Any, ...], Bucket | None] | None = None


def bucket() -> Bucket | None:
    """The process's bucket for the current settings (rebuilt when they change, e.g. in tests)."""
    global _bucket
    rate, burst = limits()
    redis_url = str(getattr(settings, "REDIS_URL", "") or "")
    mode = str(getattr(settings, "STRIPE_MODE", "sandbox"))
    config = (rate, burst, redis_url, mode)
    with _bucket_lock:
        if _bucket is None or _bucket[0] != config:
            built: Bucket | None = None
            if rate > 0:
                built = (
                    RedisBucket(redis_url, f"stripe:ratelimit:{mode}", rate, burst)
                    if redis_url
                    else LocalBucket(rate, burst)
                )
            _bucket = (config, built)
        return _bucket[1]


def reset() -> None:
    """Forget the bucket (tests that change the limit; the next request builds a new one)."""
    global _bucket
    with _bucket_lock:
        _bucket = None


def backoff_delay(attempt: int) -> float:
    """Full-jitter exponential backoff before the ``attempt``-th retry of a 429 (1-based)."""
    base = float(getattr(settings, "STRIPE_RATE_LIMIT_BACKOFF_BASE", 0.5))
    cap = float(getattr(settings, "STRIPE_RATE_LIMIT_BACKOFF_MAX", 8.0))
    ceiling = min(cap, base * 2 ** (attempt - 1))
    return random.uniform(ceiling / 2, ceiling)


# --- The hook -----------------------------------------------------------------------------------


def _send(
    original: Callable[..., tuple[Any, int, Any]],
    method: str,
    url: str,
    *args: Any,
    **kwargs: Any,
) -> tuple[Any, int, Any]:
    retries = int(getattr(settings, "STRIPE_RATE_LIMIT_429_RETRIES", 3))
    attempt = 0
    while True:
        waited = 0.0
        limiter = bucket()
        if limiter is not None:
            waited = limiter.reserve()
            if waited > 0:
                time.sleep(waited)
        path = urlsplit(url).path
        try:
            response = original(method, url, *args, **kwargs)
        except Exception:
            _record(Request(method.upper(), path, 0, waited))
            raise
        status = int(response[1])
        _record(Request(method.upper(), path, status, waited))
        if status != 429 or attempt >= retries:
            if status == 429:
                logger.warning(
                    "Stripe answered 429 to %s %s after %d retries", method, path, retries
                )
            return response
        attempt += 1
        delay = backoff_delay(attempt)
        logger.info(
            "Stripe answered 429 to %s %s; retry %d in %.2f s", method, path, attempt, delay
        )
        time.sleep(delay)


def instrument[C](http_client: C) -> C:
    """Route every request of the SDK's ``http_client`` through the counter and the limiter.

    The SDK's retry loop calls ``self.request`` (or ``request_stream``) once per attempt; the
    wrappers are set on the instance, so they see every attempt."""
    for name in ("request", "request_stream"):
        original = getattr(http_client, name, None)
        if original is None or getattr(original, "_stripe_traffic", False):
            continue

        def wrapped(
            method: str,
            url: str,
            *args: Any,
            _original: Callable[..., tuple[Any, int, Any]] = original,
            **kwargs: Any,
        ) -> tuple[Any, int, Any]:
            return _send(_original, method, url, *args, **kwargs)

        wrapped._stripe_traffic = True  # type: ignore[attr-defined]
        setattr(http_client, name, wrapped)
    return http_client
