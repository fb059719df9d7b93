from django.apps import AppConfig


class SandboxConfig(AppConfig):
    name = "sandbox"
    verbose_name = "Stripe sandbox"

    def ready(self) -> None:
        # Registers the API routes and the clock jobs of every resource module.
        import sandbox.control
        import sandbox.resources  # noqa: F401
