from django.apps import AppConfig


class SellersConfig(AppConfig):
    name = "sellers"

    def ready(self) -> None:
        from marketplace.management.commands import demo_seed
        from sellers import handlers  # noqa: F401  (registers the Stripe event handlers)
        from sellers.seed import seed_sellers

        if seed_sellers not in demo_seed.EXTRA_SEEDERS:
            demo_seed.EXTRA_SEEDERS.append(seed_sellers)
