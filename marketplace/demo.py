"""What every app's demo seeder shares: the demo password, demo users, and the log-ins a seeder
reports. The seeders themselves are listed, in the order they run, in
``demo/management/commands/demo_seed.py``."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model

DEMO_PASSWORD = "demo-pass-1234"


@dataclass(frozen=True)
class DemoLogin:
    """A log-in ``demo_seed`` prints at the end: who it is, the email, what to open first."""

    role: str  # "admin", "buyer", "seller"
    email: str
    where: str


class Output(Protocol):
    """Where a seeder writes what it did: the command's stdout (or a StringIO in tests)."""

    def write(self, msg: str, /) -> object: ...


# A seeder gets the command's output stream, makes its part of the demo (safe to run again) and
# returns the log-ins it made, if any.
Seeder = Callable[[Output], Iterable[DemoLogin] | None]


def ensure_user(email: str, *, staff: bool = False) -> Any:
    """Create (or fetch) a demo user with a verified email address and the demo password."""
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
