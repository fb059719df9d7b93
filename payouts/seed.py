"""Demo data of the payouts app: a platform fee rule and a category override, made by the demo
admin, so the fee pages and the simulator have something to show (and the demo purchases are
charged by them). Listed in ``demo_seed``. Safe to run again."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.utils import timezone

from marketplace.demo import ensure_user
from sellers.fees import fee_rule_create
from sellers.models import Category, FeeRule


def seed_fee_rules(stdout: Any) -> None:
    if FeeRule.objects.exists():
        return
    admin = ensure_user("admin@example.com", staff=True)
    currencies = list(settings.MARKETPLACE_CURRENCIES)
    today = timezone.now().date()
    fee_rule_create(
        actor=admin,
        scope=FeeRule.Scope.PLATFORM,
        starts_on=today,
        bps=settings.MARKETPLACE_DEFAULT_FEE_BPS,
        currencies=currencies,
        fixed_fees=dict.fromkeys(currencies, settings.MARKETPLACE_DEFAULT_FEE_FIXED),
        note="demo: the platform default",
    )
    category = Category.objects.filter(name="Ceramics").first()
    if category is not None:
        fee_rule_create(
            actor=admin,
            scope=FeeRule.Scope.CATEGORY,
            category=category,
            starts_on=today,
            bps=800,
            currencies=currencies,
            minimums=dict.fromkeys(currencies, 50),
            note="demo: lower fee for ceramics",
        )
    stdout.write("  fee rules: platform default and a Ceramics override (/money/fees/)")
