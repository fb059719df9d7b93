"""The demo's subscription listing: a club with a monthly and a yearly plan, so `make demo`
shows the subscription journey (subscribe, change plan with a proration preview, cancel)."""

from __future__ import annotations

from typing import Any

from marketplace.errors import UserFacingError
from marketplace.money import Money
from marketplace.stripe_gateway import GatewayError
from sellers import services as seller_services
from sellers.models import Category, Listing, Seller
from subscriptions import services
from subscriptions.models import Plan

CLUB_SELLER = "seller@example.com"
CLUB_TITLE = "Cup of the month club"
CLUB_PLANS = [
    services.PlanInput(name="Monthly", amount=1800, interval="month", trial_days=14),
    services.PlanInput(name="Yearly", amount=19000, interval="year"),
]


def seed_subscription_plans(stdout: Any) -> None:
    """Give the demo's first seller a subscription listing with two plans (created in Stripe
    on the platform account). Safe to run again: an existing club is left as it is."""
    seller = Seller.objects.filter(user__email=CLUB_SELLER).first()
    if seller is None or not seller.can_sell:
        stdout.write("  subscriptions: skipped (the demo seller is not onboarded)")
        return
    listing = seller.listings.filter(title=CLUB_TITLE).first()
    try:
        if listing is None:
            listing = seller_services.listing_create(
                seller=seller,
                title=CLUB_TITLE,
                description="A new handmade cup each month; pause or cancel any time.",
                category=Category.objects.filter(name="Ceramics").first(),
                price=Money(CLUB_PLANS[0].amount, seller.default_currency),
                stock=None,
            )
            seller_services.listing_publish(listing=listing)
        for plan in CLUB_PLANS:
            if not Plan.objects.filter(listing=listing, name=plan.name).exists():
                services.plan_create(seller=seller, listing_id=listing.pk, data=plan)
    except (UserFacingError, GatewayError) as exc:
        stdout.write(f"  subscriptions: could not set up the club: {exc.message}")
        return
    plans = Plan.objects.filter(listing=listing).count()
    on_sale = listing.status == Listing.Status.PUBLISHED
    stdout.write(
        f"  subscriptions: {CLUB_TITLE!r} with {plans} plan(s){'' if on_sale else ' (not on sale)'}"
    )
