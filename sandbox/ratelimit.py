"""Stripe's rate limit, enforced (setting ``SANDBOX_RATE_LIMIT_PER_SECOND``; 0, the default: off).

Stripe answers ``429 Too Many Requests`` (``rate_limit``) once an account sends more than its
limit per second: 25 in test mode, 100 in live mode (docs.stripe.com/rate-limits). Set the
setting to 25 to make the sandbox do the same, so a client's pacing and backoff can be shown to
work. Counted on the real clock (a rate is about real time, not the sandbox's advanced clock),
over a sliding one-second window (the previous second weighted by how much of it is still inside
the window), in the cache, so every process serving the sandbox shares the count. A refused
request is not counted.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.core.cache import cache

_KEY = "sandbox:ratelimit:{}"


def limit() -> int:
    return int(getattr(settings, "SANDBOX_RATE_LIMIT_PER_SECOND", 0) or 0)


def exceeded(now: float | None = None) -> bool:
    """Count one request; True (and not counted) when it goes over the limit."""
    per_second = limit()
    if per_second <= 0:
        return False
    now = time.time() if now is None else now
    second = int(now)
    key = _KEY.format(second)
    cache.add(key, 0, 5)
    try:
        current = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, 5)
        current = 1
    previous = int(cache.get(_KEY.format(second - 1)) or 0)
    if previous * (1 - (now - second)) + current > per_second:
        cache.decr(key)
        return True
    return False
