from django.apps import AppConfig


class PayoutsConfig(AppConfig):
    name = "payouts"
    verbose_name = "Money: fees, ledger, balances"

    def ready(self) -> None:
        from marketplace.management.commands import demo_seed
        from payouts import handlers  # noqa: F401  (registers the Stripe event handlers)
        from payouts.seed import seed_fee_rules

        if seed_fee_rules not in demo_seed.EXTRA_SEEDERS:
            demo_seed.EXTRA_SEEDERS.append(seed_fee_rules)
