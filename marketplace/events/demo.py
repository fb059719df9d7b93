"""Demo data of the events pipeline (listed in ``demo_seed``): in sandbox mode, register this
site's two webhook endpoints with the sandbox, so the demo's payments are delivered as events."""

from __future__ import annotations

from django.conf import settings

from marketplace import stripe_gateway
from marketplace.demo import Output


def seed_webhook_endpoints(stdout: Output) -> None:
    from marketplace.events.services import webhook_endpoints_ensure_sandbox

    if not settings.STRIPE_SANDBOX:
        return
    try:
        endpoints = webhook_endpoints_ensure_sandbox()
    except stripe_gateway.GatewayError as exc:
        stdout.write(f"Webhook endpoints not registered with the sandbox: {exc}")
        return
    for endpoint in endpoints.values():
        stdout.write(f"Sandbox delivers {endpoint.kind} events to {endpoint.url}")
