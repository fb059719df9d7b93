"""``demo_seed`` runs the seeders it lists, in order, and closes with every log-in they made."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from demo.management.commands import demo_seed
from marketplace.demo import DemoLogin

pytestmark = pytest.mark.django_db


def test_the_seeders_are_listed_in_the_command_in_the_order_they_run():
    names = [seeder.__name__ for seeder in demo_seed.SEEDERS]
    assert names == [
        "seed_webhook_endpoints",
        "seed_platform_users",
        "seed_sellers",
        "seed_fee_rules",  # before the purchases, so they are charged by the demo's rules
        "seed_demo_purchases",
        "seed_subscription_plans",
        "seed_demo_orders_note",
        "seed_admin_second_factor",
    ]


def test_closing_block_lists_each_seeders_log_ins_and_the_site_url(settings, monkeypatch):
    settings.SITE_URL = "https://demo.example.com:8443/"
    settings.STRIPE_SANDBOX = False
    ran = []

    def sellers(stdout):
        ran.append("sellers")
        stdout.write("  sellers: 1 seller(s)")
        return [DemoLogin("seller", "maker@example.com", "My shop /sell/")]

    def note(stdout):
        ran.append("note")  # returns nothing: no log-in

    monkeypatch.setattr(demo_seed, "SEEDERS", [demo_seed.seed_platform_users, sellers, note])
    out = io.StringIO()
    call_command("demo_seed", stdout=out)
    text = out.getvalue()
    assert ran == ["sellers", "note"]
    closing = text.split("Demo log-ins")[1]
    assert [line.split()[:2] for line in closing.splitlines()[1:4]] == [
        ["admin", "admin@example.com"],
        ["buyer", "buyer@example.com"],
        ["seller", "maker@example.com"],
    ]
    assert closing.rstrip().endswith("Open https://demo.example.com:8443/")
    assert "sandbox" not in closing
