from django.apps import AppConfig


class BuyersConfig(AppConfig):
    name = "buyers"

    def ready(self) -> None:
        from buyers import handlers  # noqa: F401  (registers the checkout.session.* handlers)
        from buyers.demo import seed_demo_orders_note, seed_demo_purchases
        from marketplace.management.commands.demo_seed import EXTRA_SEEDERS

        for seeder in (seed_demo_purchases, seed_demo_orders_note):
            if seeder not in EXTRA_SEEDERS:
                EXTRA_SEEDERS.append(seeder)
