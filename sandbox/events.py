"""Events: ``emit(type, obj, account=None, previous_attributes=None)``.

Creates an ``evt_…`` like Stripe's (``data.object`` a snapshot of ``obj``, ``request`` the API
request that caused it, ``account`` for events of connected accounts) and one ``Delivery`` per
matching enabled webhook endpoint: platform endpoints (``connect=false``) receive events with no
``account``; Connect endpoints (``connect=true``) receive the events of connected accounts.
Delivery happens after the surrounding transaction commits (see ``sandbox.delivery``).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import stripe

from sandbox import clock, context, delivery, shapes, store
from sandbox.models import Delivery, SandboxObject

JSON = dict[str, Any]


#: The webhook endpoints read once for a run of the clock jobs (``pinned_endpoints``): a renewal
#: of thousands of subscriptions emits tens of thousands of events; no endpoint changes meanwhile.
_pinned: ContextVar[list[SandboxObject] | None] = ContextVar("sandbox_endpoints", default=None)


def _endpoints() -> list[SandboxObject]:
    pinned = _pinned.get()
    if pinned is not None:
        return pinned
    from sandbox.resources.webhook_endpoints import ensure_default_endpoints

    ensure_default_endpoints()
    return list(store.queryset("webhook_endpoint", account=""))


@contextmanager
def pinned_endpoints() -> Iterator[None]:
    """Read the webhook endpoints once for the block (the clock's jobs)."""
    token = _pinned.set(_endpoints())
    try:
        yield
    finally:
        _pinned.reset(token)


def matching_endpoints(event_type: str, account: str | None) -> list[SandboxObject]:
    """The enabled webhook endpoints that receive an event of this type and origin."""
    endpoints = []
    for row in _endpoints():
        data = row.data
        if data.get("status") != "enabled":
            continue
        if bool(row.private.get("connect")) != bool(account):
            continue
        enabled = data.get("enabled_events") or []
        if "*" in enabled or event_type in enabled:
            endpoints.append(row)
    return endpoints


def emit(
    type: str,
    obj: JSON,
    *,
    account: str | None = None,
    previous_attributes: JSON | None = None,
) -> JSON:
    """Record event ``type`` about ``obj`` (the object's JSON after the change) and queue its
    deliveries; returns the event JSON. ``account``: the connected account the event happened
    on (Connect event), None for the platform's own events."""
    request = context.current.get()
    endpoints = matching_endpoints(type, account)
    data: JSON = {"object": shapes.complete(copy.deepcopy(obj))}
    if previous_attributes:
        data["previous_attributes"] = copy.deepcopy(previous_attributes)
    fields: JSON = {}
    if account:
        fields["account"] = account
    fields.update(
        {
            "api_version": (request.api_version if request else None) or stripe.api_version,
            "created": clock.now(),
            "data": data,
            "livemode": False,
            "pending_webhooks": len(endpoints),
            "request": {
                "id": request.request_id if request else None,
                "idempotency_key": request.idempotency_key if request else None,
            },
            "type": type,
        }
    )
    event = store.create("evt", "event", fields, account=account or "")
    deliveries = [Delivery(event_id=event["id"], endpoint_id=endpoint.id) for endpoint in endpoints]
    if deliveries:
        delivery.queue(deliveries)
    return event
