"""Load the demo data `make demo` shows, and print the log-ins it made. Safe to run again."""

from __future__ import annotations

from typing import Any

from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

DEMO_PASSWORD = "demo-pass-1234"

# Apps extend the demo by adding callables here at start-up: each gets the command's stdout.
EXTRA_SEEDERS: list[Any] = []


def ensure_user(email: str, *, staff: bool = False) -> Any:
    """Create (or fetch) a demo user with a verified email address."""
    User = get_user_model()
    user, created = User.objects.get_or_create(
        email=email,
        defaults={"username": email.split("@")[0], "is_staff": staff, "is_superuser": staff},
    )
    if created:
        user.set_password(DEMO_PASSWORD)
        user.save()
    EmailAddress.objects.update_or_create(
        user=user, email=email, defaults={"verified": True, "primary": True}
    )
    return user


class Command(BaseCommand):
    help = "Create demo users (an admin, a buyer, sellers) and print their log-ins."

    def handle(self, *args: Any, **options: Any) -> None:
        with transaction.atomic():
            ensure_user("admin@example.com", staff=True)
            ensure_user("buyer@example.com")
        for seeder in EXTRA_SEEDERS:
            seeder(self.stdout)
        self.stdout.write(self.style.SUCCESS(f"Demo log-ins (password for all: {DEMO_PASSWORD}):"))
        self.stdout.write("  admin  admin@example.com   (platform admin: /admin/)")
        self.stdout.write("  buyer  buyer@example.com")
        self.stdout.write("Open http://127.0.0.1:8000/")
