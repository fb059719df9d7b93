from typing import Any

from django.apps import AppConfig
from django.core import checks


class SandboxConfig(AppConfig):
    name = "sandbox"
    verbose_name = "Stripe sandbox"

    def ready(self) -> None:
        # Registers the API routes and the clock jobs of every resource module.
        import sandbox.control
        import sandbox.resources  # noqa: F401

        checks.register(check_open_with_default_key, checks.Tags.security, deploy=True)


def check_open_with_default_key(
    app_configs: Any = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """``check --deploy``: the sandbox open to HTTP with the well-known default key."""
    from sandbox import access

    if access.http_open() and access.secret_key() == access.DEFAULT_SECRET_KEY:
        return [
            checks.Warning(
                "SANDBOX_HTTP_OPEN is on with the default SANDBOX_SECRET_KEY: anyone who can "
                "reach /sandbox/v1/ can use the sandbox's API.",
                hint="Set SANDBOX_SECRET_KEY to your own sk_test_… value, or turn "
                "SANDBOX_HTTP_OPEN off.",
                id="sandbox.W001",
            )
        ]
    return []
