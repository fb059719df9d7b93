from django.apps import AppConfig


class PayoutsConfig(AppConfig):
    name = "payouts"
    verbose_name = "Money: fees, ledger, balances"

    def ready(self) -> None:
        from marketplace.fees import set_rule_provider
        from payouts.services.fee_rules import fee_rule_provider

        # The core's fee_quote asks the payouts fee rules (the core never imports an app).
        set_rule_provider(fee_rule_provider)
        from payouts import handlers  # noqa: F401  (registers the Stripe event handlers)
