"""Sign webhook payloads exactly as Stripe does, independently of the code under test.

Stripe computes HMAC-SHA256 with the endpoint's secret over ``f"{t}.{body}"`` and sends
``Stripe-Signature: t=<unix seconds>,v1=<hex digest>`` (several ``v1`` during a secret rotation).
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
from typing import Any

PLATFORM_SECRET = "whsec_test_platform_0123456789"
CONNECT_SECRET = "whsec_test_connect_0123456789"

_counter = itertools.count(1)


def sign(body: bytes, secret: str, *, timestamp: int | None = None) -> str:
    t = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"


def make_event(
    event_type: str = "account.updated",
    *,
    stripe_id: str | None = None,
    created: int | None = None,
    account: str | None = None,
    livemode: bool = False,
    obj: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A Stripe event object as Stripe sends it (only the fields the pipeline reads, plus data)."""
    n = next(_counter)
    event: dict[str, Any] = {
        "id": stripe_id or f"evt_test_{n:06d}_{time.time_ns() % 10**9}",
        "object": "event",
        "api_version": "2026-10-28.endive",
        "created": int(time.time()) if created is None else created,
        "data": {"object": obj or {"id": f"acct_{n:06d}", "object": "account"}},
        "livemode": livemode,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": event_type,
    }
    if account:
        event["account"] = account
    return event


def body_of(event: dict[str, Any]) -> bytes:
    return json.dumps(event, separators=(",", ":")).encode()
