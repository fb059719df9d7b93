from django.apps import AppConfig


class BuyersConfig(AppConfig):
    name = "buyers"

    def ready(self) -> None:
        from allauth.account.signals import user_logged_in

        from buyers import (
            handlers,  # noqa: F401  (registers the checkout.session.* handlers)
            onsite_handlers,  # noqa: F401  (the payment_intent.* handlers)
        )
        from buyers.aftersale import tasks  # noqa: F401  (registers the after-sale's tasks)
        from buyers.cart import on_user_logged_in

        # A visitor's cart (in the session) joins the buyer's cart when they sign in.
        user_logged_in.connect(on_user_logged_in, dispatch_uid="buyers.cart.merge_on_login")
