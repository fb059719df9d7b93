"""Demo data of the sellers app: categories, two onboarded sellers with listings.

Listed in ``demo_seed`` (``demo/management/commands/demo_seed.py``). The sellers' accounts are made
through the gateway, so this needs the Stripe sandbox (or test-mode keys); without it the sellers
are skipped with a printed note. Safe to run again.
"""

from __future__ import annotations

import importlib
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils.text import slugify

from marketplace.demo import DemoLogin, ensure_user
from marketplace.errors import UserFacingError
from marketplace.money import Money
from marketplace.stripe_gateway import GatewayError
from sellers import services
from sellers.models import Category, Listing, Seller

CATEGORIES = ["Ceramics", "Prints & posters", "Jewellery", "Textiles", "Stationery"]

SELLERS: list[dict[str, Any]] = [
    {
        "email": "seller@example.com",
        "display_name": "Ana's Ceramics",
        "slug": "anas-ceramics",
        "country": "FR",
        "currency": "eur",
        "listings": [
            ("Speckled stoneware mug", "Ceramics", "24.00", 12, "Wheel-thrown, 350 ml."),
            ("Serving bowl, sea glaze", "Ceramics", "58.50", 3, "28 cm across, food safe."),
            ("Set of four espresso cups", "Ceramics", "39.90", None, "Made to order."),
        ],
    },
    {
        "email": "seller2@example.com",
        "display_name": "Northern Prints",
        "slug": "northern-prints",
        "country": "GB",
        "currency": "gbp",
        "listings": [
            ("Risograph print: Harbour", "Prints & posters", "18.00", 40, "A3, two colours."),
            ("Linocut notebook", "Stationery", "9.50", 25, "A5, 96 pages, dot grid."),
        ],
    },
]


def _categories() -> dict[str, Category]:
    found = {}
    for name in CATEGORIES:
        category, _ = Category.objects.get_or_create(name=name, defaults={"slug": slugify(name)})
        found[name] = category
    return found


def _complete_onboarding(seller: Seller) -> bool:
    """Fill in the sandbox account's details as a seller would on the hosted onboarding page
    (outcome "complete"). Only with the sandbox; with real Stripe keys sellers onboard themselves.
    """
    if not settings.STRIPE_SANDBOX or not seller.stripe_account_id:
        return False
    try:
        sandbox_accounts = importlib.import_module("sandbox.resources.accounts")
    except ImportError:
        return False
    apply_onboarding = getattr(sandbox_accounts, "apply_onboarding", None)
    if apply_onboarding is None:
        return False
    with transaction.atomic():
        apply_onboarding(
            seller.stripe_account_id, outcome="complete", business_name=seller.display_name
        )
    return True


def seed_sellers(stdout: Any) -> list[DemoLogin]:
    """Create demo categories, sellers (onboarded sandbox accounts) and listings; return the
    sellers' log-ins (a seller whose account could not be made is skipped with a note)."""
    categories = _categories()
    made: list[DemoLogin] = []
    for spec in SELLERS:
        with transaction.atomic():
            user = ensure_user(spec["email"])
            seller = Seller.objects.filter(user=user).first()
            if seller is None:
                seller = services.seller_create(
                    user=user,
                    display_name=spec["display_name"],
                    slug=spec["slug"],
                    country=spec["country"],
                    default_currency=spec["currency"]
                    if spec["currency"] in settings.MARKETPLACE_CURRENCIES
                    else settings.MARKETPLACE_CURRENCIES[0],
                )
        try:
            seller = services.seller_ensure_account(seller=seller)
            if not seller.charges_enabled:
                _complete_onboarding(seller)
            seller = services.seller_sync_account(seller=seller)
        except GatewayError as exc:
            stdout.write(
                f"  sellers: skipped onboarding {spec['email']}: the Stripe sandbox is not "
                f"available ({exc.message})"
            )
            continue
        for title, category, price, stock, description in spec["listings"]:
            if seller.listings.filter(title=title).exists():
                continue
            try:
                listing = services.listing_create(
                    seller=seller,
                    title=title,
                    description=description,
                    category=categories[category],
                    price=Money.from_major(price, seller.default_currency),
                    stock=stock,
                )
                if seller.can_sell:
                    services.listing_publish(listing=listing)
            except UserFacingError as exc:
                stdout.write(f"  sellers: could not list {title!r}: {exc.message}")
        made.append(DemoLogin("seller", spec["email"], f"{seller.display_name}: My shop /sell/"))
    on_sale = Listing.objects.filter(status=Listing.Status.PUBLISHED).count()
    stdout.write(f"  sellers: {len(made)} seller(s), {on_sale} listing(s) on sale")
    return made
