from django.apps import AppConfig


class SellersConfig(AppConfig):
    name = "sellers"

    def ready(self) -> None:
        from sellers import handlers  # noqa: F401  (registers the Stripe event handlers)
