"""The API request being handled (for events' ``request: {id, idempotency_key}``)."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(frozen=True)
class RequestContext:
    request_id: str
    idempotency_key: str | None
    account: str
    # The sandbox time when the request started: every timestamp the request writes uses it,
    # so ``created`` and ``expires_at = created + ttl`` agree as on Stripe.
    now: int | None = None
    # The request's API version (Stripe-Version, or the sandbox's own).
    api_version: str | None = None


current: ContextVar[RequestContext | None] = ContextVar("sandbox_request", default=None)
