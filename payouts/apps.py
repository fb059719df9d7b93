from django.apps import AppConfig


class PayoutsConfig(AppConfig):
    name = "payouts"
    verbose_name = "Money: fees, ledger, balances"

    def ready(self) -> None:
        from buyers.services import hooks
        from payouts import handlers  # noqa: F401  (registers the Stripe event handlers)
        from payouts.services.charge_sync import on_payment_read
        from payouts.services.invoices import on_invoice_paid
        from subscriptions.signals import invoice_paid

        # A subscription's paid invoice: its charge in the ledger (idempotent).
        invoice_paid.connect(on_invoice_paid, dispatch_uid="payouts.invoices.on_invoice_paid")
        # A purchase's fulfilment read its charge: the ledger records it without reading again.
        if on_payment_read not in hooks.PAYMENT_READ_HOOKS:
            hooks.PAYMENT_READ_HOOKS.append(on_payment_read)
