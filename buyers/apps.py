from django.apps import AppConfig


class BuyersConfig(AppConfig):
    name = "buyers"

    def ready(self) -> None:
        from buyers import handlers  # noqa: F401  (registers the checkout.session.* handlers)
