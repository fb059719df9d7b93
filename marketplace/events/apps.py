from __future__ import annotations

from typing import Any

from django.apps import AppConfig


class EventsConfig(AppConfig):
    name = "marketplace.events"
    label = "events"
    verbose_name = "Stripe events"

    def ready(self) -> None:
        from marketplace.management.commands.demo_seed import EXTRA_SEEDERS

        if seed_webhook_endpoints not in EXTRA_SEEDERS:
            EXTRA_SEEDERS.append(seed_webhook_endpoints)


def seed_webhook_endpoints(stdout: Any) -> None:
    """demo_seed: in sandbox mode, register our webhook endpoints with the sandbox."""
    from django.conf import settings

    from marketplace import stripe_gateway
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
