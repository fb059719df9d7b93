from django.apps import AppConfig


class BuyersConfig(AppConfig):
    name = "buyers"

    def ready(self) -> None:
        from buyers import handlers  # noqa: F401  (registers the checkout.session.* handlers)
        from buyers.demo import seed_demo_orders_note
        from marketplace.management.commands.demo_seed import EXTRA_SEEDERS

        if seed_demo_orders_note not in EXTRA_SEEDERS:
            EXTRA_SEEDERS.append(seed_demo_orders_note)
