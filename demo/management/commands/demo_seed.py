"""Load the demo data `make demo` shows, and print the log-ins it made. Safe to run again.

The seeders run in the order of ``SEEDERS``. Each one gets the command's output stream, makes
its part of the demo idempotently and returns the log-ins it made (``DemoLogin``), which the
command prints together at the end. To add a step, write the seeder in its app and add it here.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction

from buyers.demo import seed_demo_orders_note, seed_demo_purchases
from marketplace.demo import DEMO_PASSWORD, DemoLogin, Seeder, ensure_user
from marketplace.events.demo import seed_webhook_endpoints
from marketplace.staff_enrolment import seed_admin_second_factor
from payouts.seed import seed_fee_rules
from sellers.seed import seed_sellers
from subscriptions.demo import seed_subscription_plans

ADMIN_EMAIL = "admin@example.com"
BUYER_EMAIL = "buyer@example.com"


def seed_platform_users(stdout: Any) -> list[DemoLogin]:
    """The platform admin (staff, superuser) and the demo buyer."""
    with transaction.atomic():
        ensure_user(ADMIN_EMAIL, staff=True)
        ensure_user(BUYER_EMAIL)
    return [
        DemoLogin(
            "admin", ADMIN_EMAIL, "staff money pages /money/dashboard/, Django admin /admin/"
        ),
        DemoLogin("buyer", BUYER_EMAIL, "orders /orders/"),
    ]


SEEDERS: list[Seeder] = [
    seed_webhook_endpoints,  # sandbox mode: our endpoints first, so the demo's events arrive
    seed_platform_users,  # admin and buyer
    seed_sellers,  # categories, two onboarded sellers, their listings
    seed_fee_rules,  # a platform rule and a Ceramics rule, before anything is bought
    seed_demo_purchases,  # the buyer pays three orders on the sandbox's hosted Checkout
    seed_subscription_plans,  # a subscription listing (a club) with a monthly and a yearly plan
    seed_demo_orders_note,  # how to buy more
    seed_admin_second_factor,  # the admin's authenticator secret and recovery codes, printed last
]


class Command(BaseCommand):
    help = "Create demo users (an admin, a buyer, sellers) and data, and print their log-ins."

    def handle(self, *args: Any, **options: Any) -> None:
        logins: list[DemoLogin] = []
        for seeder in SEEDERS:
            logins.extend(seeder(self.stdout) or [])
        self.stdout.write(self.style.SUCCESS(f"Demo log-ins (password for all: {DEMO_PASSWORD}):"))
        width = max(len(login.email) for login in logins)
        for login in logins:
            self.stdout.write(f"  {login.role:<8}{login.email:<{width + 3}}{login.where}")
        site = settings.SITE_URL.rstrip("/")
        self.stdout.write(f"Open {site}/")
        if settings.STRIPE_SANDBOX:
            self.stdout.write(f"The Stripe sandbox's control page (clock, faults): {site}/sandbox/")
