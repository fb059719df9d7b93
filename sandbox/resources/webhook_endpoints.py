"""Webhook endpoints: ``/v1/webhook_endpoints`` (create returns ``secret`` once)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from stripe.params import (
    WebhookEndpointCreateParams,
    WebhookEndpointListParams,
    WebhookEndpointUpdateParams,
)

from sandbox import store, versions
from sandbox.errors import invalid_request
from sandbox.ids import new_id
from sandbox.models import SandboxObject
from sandbox.router import Request, route

JSON = dict[str, Any]


def _check_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise invalid_request(f"Invalid URL: {url}", param="url", code="url_invalid")


def endpoint_create(
    *,
    url: str,
    enabled_events: list[str],
    connect: bool = False,
    description: str | None = None,
    metadata: dict[str, str] | None = None,
    api_version: str | None = None,
    secret: str | None = None,
) -> JSON:
    """Create an endpoint and return its JSON including ``secret`` (only time it is shown)."""
    _check_url(url)
    if not enabled_events:
        raise invalid_request("Missing required param: enabled_events.", param="enabled_events")
    secret = secret or new_id("whsec", 32)
    obj = store.create(
        "we",
        "webhook_endpoint",
        {
            "api_version": api_version,
            "application": None,
            "description": description,
            "enabled_events": list(enabled_events),
            "livemode": False,
            "metadata": dict(metadata or {}),
            "status": "enabled",
            "url": url,
        },
        private={"secret": secret, "connect": bool(connect)},
    )
    return {**obj, "secret": secret}


DEFAULT_ENDPOINTS = (
    ("/stripe/webhook/", False, "SANDBOX_WEBHOOK_SECRET"),
    ("/stripe/webhook/connect/", True, "SANDBOX_CONNECT_WEBHOOK_SECRET"),
)


def ensure_default_endpoints(*, force: bool = False) -> list[JSON]:
    """Register this site's own webhook endpoints (``SITE_URL`` + ``/stripe/webhook/`` for
    platform events, ``/stripe/webhook/connect/`` for Connect events) with the secrets in
    ``SANDBOX_WEBHOOK_SECRET`` / ``SANDBOX_CONNECT_WEBHOOK_SECRET``, which settings also put in
    ``STRIPE_WEBHOOK_SECRETS`` / ``STRIPE_CONNECT_WEBHOOK_SECRETS`` in sandbox mode, so the
    site's intake verifies sandbox deliveries with no setup. Only when
    ``SANDBOX_DEFAULT_ENDPOINTS`` is on (or ``force``); an endpoint deleted by hand stays
    deleted. Returns the endpoints created now."""
    if not force and not getattr(settings, "SANDBOX_DEFAULT_ENDPOINTS", False):
        return []
    base = str(getattr(settings, "SITE_URL", "") or "http://127.0.0.1:8000").rstrip("/")
    created = []
    for path, connect, secret_setting in DEFAULT_ENDPOINTS:
        url = base + path
        if SandboxObject.objects.filter(object="webhook_endpoint", data__url=url).exists():
            continue
        created.append(
            endpoint_create(
                url=url,
                enabled_events=["*"],
                connect=connect,
                description="This site's own endpoint (SANDBOX_DEFAULT_ENDPOINTS)",
                secret=getattr(settings, secret_setting, None) or None,
            )
        )
    return created


@route("POST", "/v1/webhook_endpoints", params=WebhookEndpointCreateParams, connect=False)
def create(req: Request) -> JSON:
    p = req.params
    metadata = p.get("metadata") or {}
    return endpoint_create(
        url=p["url"],
        enabled_events=p["enabled_events"],
        connect=bool(p.get("connect", False)),
        description=p.get("description") or None,
        metadata=metadata if isinstance(metadata, dict) else {},
        api_version=versions.check(p["api_version"]) if p.get("api_version") else None,
    )


@route("GET", "/v1/webhook_endpoints/{id}", connect=False)
def retrieve(req: Request) -> JSON:
    return store.get(
        req.args["id"], object_type="webhook_endpoint", account="", name="webhook endpoint"
    )


@route("POST", "/v1/webhook_endpoints/{id}", params=WebhookEndpointUpdateParams, connect=False)
def update(req: Request) -> JSON:
    p = dict(req.params)
    p.pop("expand", None)
    store.get_row(
        req.args["id"], object_type="webhook_endpoint", account="", name="webhook endpoint"
    )
    changes: JSON = {}
    if "url" in p:
        _check_url(p["url"])
        changes["url"] = p["url"]
    if "enabled_events" in p:
        changes["enabled_events"] = p["enabled_events"]
    if "description" in p:
        changes["description"] = p["description"] or None
    if "metadata" in p:
        changes["metadata"] = p["metadata"]
    if "disabled" in p:
        changes["status"] = "disabled" if p["disabled"] else "enabled"
    obj, _ = store.update(req.args["id"], changes, object_type="webhook_endpoint", account="")
    return obj


@route("DELETE", "/v1/webhook_endpoints/{id}", connect=False)
def delete(req: Request) -> JSON:
    return store.mark_deleted(req.args["id"], object_type="webhook_endpoint", account="")


@route("GET", "/v1/webhook_endpoints", params=WebhookEndpointListParams, connect=False)
def list_(req: Request) -> JSON:
    return store.list_response(
        store.queryset("webhook_endpoint", account=""), req.params, url="/v1/webhook_endpoints"
    )
