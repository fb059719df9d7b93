from django.apps import AppConfig


class PayoutsConfig(AppConfig):
    name = "payouts"
    verbose_name = "Money: fees, ledger, balances"

    def ready(self) -> None:
        from payouts import handlers  # noqa: F401  (registers the Stripe event handlers)
