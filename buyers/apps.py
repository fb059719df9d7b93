from django.apps import AppConfig


class BuyersConfig(AppConfig):
    name = "buyers"

    def ready(self) -> None:
        from allauth.account.signals import user_logged_in

        from buyers import handlers  # noqa: F401  (registers the checkout.session.* handlers)
        from buyers.cart import on_user_logged_in
        from buyers.demo import seed_demo_orders_note, seed_demo_purchases
        from marketplace.management.commands.demo_seed import EXTRA_SEEDERS

        for seeder in (seed_demo_purchases, seed_demo_orders_note):
            if seeder not in EXTRA_SEEDERS:
                EXTRA_SEEDERS.append(seeder)
        # A visitor's cart (in the session) joins the buyer's cart when they sign in.
        user_logged_in.connect(on_user_logged_in, dispatch_uid="buyers.cart.merge_on_login")
