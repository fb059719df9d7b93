"""What ``make demo`` prints about buying (the sellers' seeder creates the listings)."""

from __future__ import annotations

from typing import Any


def seed_demo_orders_note(stdout: Any) -> None:
    stdout.write(
        "Buying: log in as buyer@example.com, pick a listing on the home page, pay on the sandbox "
        "checkout with 4242 4242 4242 4242 (any future date, any CVC); 4000 0000 0000 0002 declines."
    )
