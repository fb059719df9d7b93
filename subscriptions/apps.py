from django.apps import AppConfig


class SubscriptionsConfig(AppConfig):
    name = "subscriptions"
    verbose_name = "Subscriptions: plans, subscribers, invoices"

    def ready(self) -> None:
        from subscriptions import handlers  # noqa: F401  (registers the Stripe event handlers)
