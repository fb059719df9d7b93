"""Webhook signing secrets and, in sandbox mode, our endpoints registered with the sandbox."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.db import transaction
from django.urls import reverse

from marketplace import stripe_gateway
from marketplace.events.models import WebhookEndpoint
from marketplace.events.services._common import Source

logger = logging.getLogger(__name__)


_sandbox_cache: dict[str, Any] = {"secrets": None, "loaded_at": 0.0, "ensure_failed_at": 0.0}
SANDBOX_SECRETS_REFRESH_SECONDS = 10.0
SANDBOX_ENSURE_RETRY_SECONDS = 30.0


def endpoint_secrets(*, source: str, refresh: bool = False) -> list[str]:
    """Signing secrets accepted on the endpoint of ``source`` (platform or connect).

    Settings first (``STRIPE_WEBHOOK_SECRET`` / ``STRIPE_CONNECT_WEBHOOK_SECRET``, several during a
    rotation); in sandbox mode also the secrets of the endpoints registered with the sandbox,
    registered on first use and cached in-process (``refresh`` re-reads them, at most every 10 s).
    """
    configured = list(
        settings.STRIPE_CONNECT_WEBHOOK_SECRETS
        if source == Source.CONNECT
        else settings.STRIPE_WEBHOOK_SECRETS
    )
    if not settings.STRIPE_SANDBOX:
        return configured
    return configured + _sandbox_secrets(refresh=refresh).get(source, [])


def _sandbox_secrets(*, refresh: bool) -> dict[str, list[str]]:
    cache = _sandbox_cache
    now = time.monotonic()
    stale = refresh and now - cache["loaded_at"] > SANDBOX_SECRETS_REFRESH_SECONDS
    if cache["secrets"] is None or stale:
        secrets: dict[str, list[str]] = {}
        for kind, secret in WebhookEndpoint.objects.values_list("kind", "secret"):
            secrets.setdefault(kind, []).append(secret)
        site_urls = set(
            WebhookEndpoint.objects.filter(url__startswith=settings.SITE_URL).values_list(
                "kind", flat=True
            )
        )
        # Register lazily only the endpoints nobody configured a secret for (the sandbox's own
        # default endpoints come with secrets in settings).
        missing = {
            kind
            for kind in ENDPOINT_URL_NAMES
            if kind not in site_urls and not _configured_secrets(kind)
        }
        if missing and now - cache["ensure_failed_at"] > SANDBOX_ENSURE_RETRY_SECONDS:
            try:
                ensured = webhook_endpoints_ensure_sandbox(verify_remote=False, kinds=missing)
                for endpoint in ensured.values():
                    kind_secrets = secrets.setdefault(endpoint.kind, [])
                    if endpoint.secret not in kind_secrets:
                        kind_secrets.append(endpoint.secret)
            except stripe_gateway.GatewayError as exc:
                cache["ensure_failed_at"] = now
                logger.warning("could not register webhook endpoints with the sandbox: %s", exc)
        cache["secrets"] = secrets
        cache["loaded_at"] = now
    result: dict[str, list[str]] = cache["secrets"]
    return result


def sandbox_secrets_forget() -> None:
    """Drop the in-process cache of sandbox endpoint secrets (tests; after a sandbox reset)."""
    _sandbox_cache.update(secrets=None, loaded_at=0.0, ensure_failed_at=0.0)


def _configured_secrets(kind: str) -> list[str]:
    return list(
        settings.STRIPE_CONNECT_WEBHOOK_SECRETS
        if kind == WebhookEndpoint.Kind.CONNECT
        else settings.STRIPE_WEBHOOK_SECRETS
    )


ENDPOINT_URL_NAMES: dict[str, str] = {
    WebhookEndpoint.Kind.PLATFORM: "events:webhook",
    WebhookEndpoint.Kind.CONNECT: "events:webhook_connect",
}


def webhook_endpoints_ensure_sandbox(
    *,
    site_url: str | None = None,
    verify_remote: bool = True,
    kinds: Iterable[str] | None = None,
) -> dict[str, WebhookEndpoint]:
    """Register our webhook endpoints (platform, Connect) with the sandbox, once; return them.

    Idempotent: an endpoint already stored for ``site_url`` (default ``SITE_URL``) is kept, unless
    ``verify_remote`` finds the sandbox no longer knows it (its database was reset), in which case
    a new one is registered. An endpoint the sandbox already has at our URL while a secret is
    configured in settings for that kind (the sandbox's own default endpoints) is left as it is
    and not returned: registering a second one would deliver every event twice. Secrets of the
    endpoints we register are stored in ``WebhookEndpoint`` and picked up by intake.
    Side effects: sandbox calls ``webhook_endpoints.list/create``; rows written.
    Only meaningful in sandbox mode; with real Stripe keys it raises ``GatewayError``.
    """
    if not settings.STRIPE_SANDBOX:
        raise stripe_gateway.GatewayError(
            "webhook endpoints are registered automatically only with the sandbox; with real "
            "Stripe set STRIPE_WEBHOOK_SECRET and STRIPE_CONNECT_WEBHOOK_SECRET."
        )
    base = (site_url or settings.SITE_URL).rstrip("/")
    remote_ids: set[str] | None = None
    remote_urls: set[str] = set()
    if verify_remote:
        remote = stripe_gateway.webhook_endpoint_list()
        remote_ids = {endpoint.id for endpoint in remote}
        remote_urls = {endpoint.url for endpoint in remote}
    result: dict[str, WebhookEndpoint] = {}
    for kind in kinds if kinds is not None else ENDPOINT_URL_NAMES:
        url = base + reverse(ENDPOINT_URL_NAMES[kind])
        row = WebhookEndpoint.objects.filter(kind=kind, url=url).first()
        if row is not None and (remote_ids is None or row.stripe_id in remote_ids):
            result[kind] = row
            continue
        if row is None and url in remote_urls and _configured_secrets(kind):
            continue
        created = stripe_gateway.webhook_endpoint_create(
            url=url, connect=kind == WebhookEndpoint.Kind.CONNECT, generation=row.pk if row else 0
        )
        with transaction.atomic():
            if row is not None:
                row.delete()
            row, _ = WebhookEndpoint.objects.update_or_create(
                stripe_id=created.id,
                defaults={"kind": kind, "url": url, "secret": created.secret or ""},
            )
        result[kind] = row
    sandbox_secrets_forget()
    return result
