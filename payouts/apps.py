from django.apps import AppConfig


class PayoutsConfig(AppConfig):
    name = "payouts"
    verbose_name = "Money: fees, ledger, balances"

    def ready(self) -> None:
        from payouts import handlers  # noqa: F401  (registers the Stripe event handlers)
        from payouts.services.invoices import on_invoice_paid
        from subscriptions.signals import invoice_paid

        # A subscription's paid invoice: its charge in the ledger (idempotent).
        invoice_paid.connect(on_invoice_paid, dispatch_uid="payouts.invoices.on_invoice_paid")
