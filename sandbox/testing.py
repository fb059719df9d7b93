"""Helpers for tests (and the control page) driving the sandbox.

    from sandbox import testing
    client = testing.stripe_client()            # a StripeClient on the sandbox (SDK retries on)
    endpoint = testing.register_endpoint("http://testserver/stripe/webhook/", connect=False)
    testing.advance(days=2)                     # sandbox clock + due jobs and deliveries
    testing.fail_next(2, "500")                 # fault injection
    testing.deliver_pending()                   # manual delivery mode: release the queue
    testing.requests(path="/v1/accounts")       # RequestLog rows (count the SDK's retries)

Webhook delivery in tests: pytest runs with ``SANDBOX_WEBHOOK_DELIVERY=inline`` (pyproject), so
events are posted when the transaction commits: use ``transactional_db`` or pytest-django's
``django_capture_on_commit_callbacks(execute=True)``, or switch to ``manual`` mode
(``settings.SANDBOX_WEBHOOK_DELIVERY = "manual"``) and call ``deliver_pending()``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import stripe

from sandbox import access, clock, delivery, faults, store
from sandbox.client import SANDBOX_API_BASE, SandboxHTTPClient
from sandbox.models import Delivery, Fault, RequestLog, SandboxObject
from sandbox.resources.webhook_endpoints import endpoint_create, ensure_default_endpoints

JSON = dict[str, Any]


def stripe_client(*, max_network_retries: int = 2, **kwargs: Any) -> stripe.StripeClient:
    """A StripeClient talking to the sandbox in-process, like the gateway's."""
    return stripe.StripeClient(
        access.secret_key(),
        http_client=SandboxHTTPClient(),
        base_addresses={
            "api": SANDBOX_API_BASE,
            "files": SANDBOX_API_BASE,
            "connect": SANDBOX_API_BASE,
            "meter_events": SANDBOX_API_BASE,
        },
        stripe_version=stripe.api_version,
        max_network_retries=max_network_retries,
        **kwargs,
    )


# --- clock -------------------------------------------------------------------------------------
def now() -> int:
    return clock.now()


def advance(seconds: int = 0, *, minutes: int = 0, hours: int = 0, days: int = 0) -> int:
    """Advance the sandbox clock and run due jobs and deliveries; returns the new ``now()``."""
    return clock.advance(seconds + 60 * minutes + 3600 * hours + 86400 * days)


def run_due() -> None:
    clock.run_due()


# --- faults ------------------------------------------------------------------------------------
def fail_next(
    count: int = 1,
    kind: str = "500",
    *,
    latency_ms: int = 0,
    method: str = "",
    path_prefix: str = "",
) -> Fault:
    """Make the next ``count`` matching requests fail with ``kind``: "500", "429", "timeout",
    "timeout_after" (runs, commits, then times out) or "latency"."""
    return faults.inject(
        kind, count=count, latency_ms=latency_ms, method=method, path_prefix=path_prefix
    )


def add_latency(ms: int, *, count: int = 1, path_prefix: str = "") -> Fault:
    return faults.inject("latency", count=count, latency_ms=ms, path_prefix=path_prefix)


def clear_faults() -> None:
    faults.clear()


def requests(*, path: str | None = None, method: str | None = None) -> list[RequestLog]:
    """Requests the sandbox received (oldest first), optionally for one exact path / method."""
    qs = RequestLog.objects.all()
    if path is not None:
        qs = qs.filter(path=path)
    if method is not None:
        qs = qs.filter(method=method.upper())
    return list(qs.order_by("id"))


# --- webhooks ----------------------------------------------------------------------------------
def register_endpoint(
    url: str, *, connect: bool = False, enabled_events: Iterable[str] = ("*",)
) -> JSON:
    """Create a webhook endpoint directly (no API call); the JSON includes ``secret``."""
    return endpoint_create(url=url, enabled_events=list(enabled_events), connect=connect)


def register_site_endpoints() -> list[JSON]:
    """Register this site's /stripe/webhook/ and /stripe/webhook/connect/ endpoints with the
    SANDBOX_WEBHOOK_SECRET / SANDBOX_CONNECT_WEBHOOK_SECRET secrets (what the sandbox does by
    itself with SANDBOX_DEFAULT_ENDPOINTS on)."""
    return ensure_default_endpoints(force=True)


def endpoint_secret(endpoint_id: str) -> str:
    return str(store.get_row(endpoint_id, object_type="webhook_endpoint").private["secret"])


def pending_deliveries(*, event_type: str | None = None) -> list[Delivery]:
    """Deliveries not yet succeeded or given up, oldest first."""
    items = list(Delivery.objects.filter(status=Delivery.Status.PENDING).order_by("id"))
    if event_type is not None:
        types = dict(
            SandboxObject.objects.filter(pk__in=[d.event_id for d in items]).values_list(
                "id", "data__type"
            )
        )
        items = [d for d in items if types.get(d.event_id) == event_type]
    return items


def deliver_pending(*, reverse: bool = False, event_type: str | None = None) -> list[Delivery]:
    """Post every pending delivery now, whatever its schedule (manual mode's queue, retries
    not yet due); ``reverse=True`` posts newest first (out-of-order delivery). Returns them."""
    items = pending_deliveries(event_type=event_type)
    if reverse:
        items.reverse()
    results = []
    for item in items:
        updated = delivery.attempt(item.pk, force=True)
        if updated is not None:
            results.append(updated)
    return results


def redeliver(event_id: str, endpoint_id: str | None = None) -> list[Delivery]:
    """Send an event again (a duplicate delivery, as Stripe sometimes does)."""
    return delivery.resend(event_id, endpoint_id)


def deliveries(event_id: str | None = None) -> list[Delivery]:
    qs = Delivery.objects.all()
    if event_id is not None:
        qs = qs.filter(event_id=event_id)
    return list(qs.order_by("id"))


def events(*, event_type: str | None = None, account: str | None = None) -> list[JSON]:
    """Event JSON (oldest first), filtered by type and account ("" = platform events)."""
    qs = SandboxObject.objects.filter(object="event")
    if event_type is not None:
        qs = qs.filter(data__type=event_type)
    if account is not None:
        qs = qs.filter(account=account)
    return [row.data for row in qs.order_by("created", "seq")]


def sign(payload: str, secret: str, timestamp: int | None = None) -> str:
    """A ``Stripe-Signature`` header for ``payload`` (as the sandbox and Stripe sign)."""
    return delivery.sign(payload, secret, timestamp)
