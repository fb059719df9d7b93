"""How the marketplace's StripeClient reaches the sandbox in-process.

``marketplace/stripe_gateway.py`` builds ``stripe.StripeClient(sandbox.access.secret_key(),
http_client=SandboxHTTPClient(), base_addresses={... SANDBOX_API_BASE ...})``. The SDK encodes
the request, adds its own headers (``Idempotency-Key``, ``Stripe-Account``, ``Stripe-Version``)
and retries (``request_with_retries`` is the base class's); this client only hands the request to
``sandbox.dispatcher.handle`` instead of the network. An injected timeout becomes the SDK's own
``APIConnectionError`` (retryable), exactly what a real network timeout raises.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import stripe
from django.conf import settings

SANDBOX_API_BASE = "http://sandbox.invalid"


class SandboxHTTPClient(stripe.HTTPClient):
    name = "sandbox"

    def request(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None,
        post_data: Any = None,
        *,
        _usage: list[str] | None = None,
    ) -> tuple[str, int, Mapping[str, str]]:
        from sandbox.dispatcher import SimulatedTimeout, handle

        parts = urlsplit(url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        # Bytes stay bytes: a multipart file upload (POST /v1/files) carries binary parts.
        body = post_data if isinstance(post_data, bytes) else (post_data or "")
        try:
            # Compact JSON: only the SDK reads it (indenting costs the encoder its C speed).
            status, response_headers, response_body = handle(
                method, path, dict(headers or {}), body, compact=True
            )
        except SimulatedTimeout as exc:
            raise stripe.APIConnectionError(  # type: ignore[no-untyped-call]
                f"Request to Stripe timed out (sandbox fault injection).\n\n(Network error: {exc})",
                should_retry=True,
            ) from exc
        return response_body, status, {k.lower(): v for k, v in response_headers.items()}

    def request_stream(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None,
        post_data: Any = None,
        *,
        _usage: list[str] | None = None,
    ) -> tuple[Any, int, Mapping[str, str]]:
        import io

        body, status, response_headers = self.request(method, url, headers, post_data)
        return io.BytesIO(body.encode()), status, response_headers

    def _sleep_time_seconds(self, num_retries: int) -> float:
        # The SDK's backoff (0.5 s and up) unless SANDBOX_MAX_RETRY_DELAY caps it (tests use 0).
        delay = float(super()._sleep_time_seconds(num_retries))
        cap = getattr(settings, "SANDBOX_MAX_RETRY_DELAY", None)
        return delay if cap is None else min(delay, float(cap))

    def close(self) -> None:
        return None


def now() -> int:
    """Unix seconds on the sandbox's clock: Stripe's "now" for a marketplace running offline.

    The clock may have been advanced (control page, tests), so any timestamp the marketplace
    hands to the sandbox (a Checkout Session's ``expires_at`` ...) is computed from this, not
    from ``time.time()``."""
    from sandbox import clock

    return clock.now()
