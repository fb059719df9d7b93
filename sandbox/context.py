"""The API request being handled (for events' ``request: {id, idempotency_key}``)."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(frozen=True)
class RequestContext:
    request_id: str
    idempotency_key: str | None
    account: str


current: ContextVar[RequestContext | None] = ContextVar("sandbox_request", default=None)
