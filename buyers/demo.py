"""Demo data of the buyers app: a few orders the demo buyer paid, so that ``make demo`` opens on a
marketplace with sales, balances, transfers and charts (the sellers' seeder creates the listings).

Listed in ``demo_seed`` (``demo/management/commands/demo_seed.py``). Paying needs the Stripe
sandbox: the buyer "submits" the 4242 test card on the sandbox's hosted Checkout, as in a
browser; with real Stripe keys nothing is bought. Safe to run again (only a buyer with no
orders buys).
"""

from __future__ import annotations

import importlib
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction

from buyers import services
from buyers.models import Order
from marketplace.errors import PaymentError, UserFacingError
from marketplace.stripe_gateway import GatewayError
from sellers.models import Listing

BUYER_EMAIL = "buyer@example.com"
# (listing title from sellers.seed, quantity)
PURCHASES = [
    ("Speckled stoneware mug", 2),
    ("Risograph print: Harbour", 1),
    ("Serving bowl, sea glaze", 1),
]
TEST_CARD = "4242424242424242"
# Where the demo buyer's orders ship (the sessions collect an address by default).
DEMO_SHIPPING = {
    "name": "Demo Buyer",
    "address": {
        "city": "Paris",
        "country": "FR",
        "line1": "12 rue des Lilas",
        "line2": None,
        "postal_code": "75011",
        "state": None,
    },
}


def seed_demo_purchases(stdout: Any) -> None:
    buyer = get_user_model().objects.filter(email=BUYER_EMAIL).first()
    if buyer is None or Order.objects.filter(buyer=buyer).exists():
        return
    hosted_checkout = _sandbox_checkout()
    if hosted_checkout is None:
        return
    paid = 0
    for title, quantity in PURCHASES:
        listing = Listing.objects.filter(title=title, status=Listing.Status.PUBLISHED).first()
        if listing is None:
            continue
        try:
            order = services.order_create(buyer=buyer, listing_id=listing.pk, quantity=quantity)
            services.order_checkout_url(order_id=order.pk)
            order.refresh_from_db()
            session_id = str(order.checkout_session_id)
            with transaction.atomic():
                _, _, declined = hosted_checkout.pay(
                    session_id,
                    number=TEST_CARD,
                    email=BUYER_EMAIL,
                    name="Demo Buyer",
                    shipping=DEMO_SHIPPING,
                )
            if declined is not None:
                stdout.write(f"  buyers: the demo card was declined for {title!r}")
                continue
            # What the success page does when the buyer comes back from Checkout.
            order = services.order_fulfil(checkout_session_id=session_id) or order
        except (UserFacingError, PaymentError, GatewayError) as exc:
            stdout.write(f"  buyers: could not buy {title!r}: {exc}")
            continue
        paid += order.status == Order.Status.PAID
    stdout.write(f"  buyers: {paid} demo order(s) paid by {BUYER_EMAIL}")


def _sandbox_checkout() -> Any:
    """The sandbox's hosted Checkout (its internal ``pay``), or None without the sandbox."""
    if not settings.STRIPE_SANDBOX:
        return None
    try:
        return importlib.import_module("sandbox.resources.checkout")
    except ImportError:
        return None


def seed_demo_orders_note(stdout: Any) -> None:
    stdout.write(
        "Buying: log in as buyer@example.com, pick a listing on the home page, pay on the sandbox "
        "checkout with 4242 4242 4242 4242 (any future date, any CVC); 4000 0000 0000 0002 declines."
    )
