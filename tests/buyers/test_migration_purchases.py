"""The data migration: an order made before purchases existed becomes a one-order purchase
(destination charge) with one line, keeping its session, payment ids, status and dates."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("buyers", "0003_order_payment_processing")]
AFTER = [("buyers", "0006_purchase_required")]


def test_existing_orders_become_one_order_purchases():
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    user = old.get_model("auth", "User").objects.create(username="ada", email="ada@example.com")
    seller_user = old.get_model("auth", "User").objects.create(username="sel")
    seller = old.get_model("sellers", "Seller").objects.create(
        user=seller_user, display_name="Pottery", slug="pottery", stripe_account_id="acct_1"
    )
    listing = old.get_model("sellers", "Listing").objects.create(
        seller=seller, title="Blue mug", price_amount=2500, currency="eur"
    )
    now = timezone.now()
    old.get_model("buyers", "Order").objects.create(
        buyer=user,
        seller=seller,
        listing=listing,
        title="Blue mug",
        unit_amount=2500,
        quantity=2,
        currency="eur",
        amount=5000,
        application_fee_amount=530,
        buyer_email="ada@example.com",
        status="fulfilled",
        expires_at=now + timedelta(minutes=30),
        checkout_session_id="cs_old",
        checkout_url="https://checkout.example/cs_old",
        checkout_attempts=1,
        payment_intent_id="pi_old",
        charge_id="ch_old",
        paid_at=now,
    )

    executor = MigrationExecutor(connection)
    executor.migrate(AFTER)
    new = executor.loader.project_state(AFTER).apps
    order = new.get_model("buyers", "Order").objects.get()
    purchase = new.get_model("buyers", "Purchase").objects.get()
    assert order.purchase_id == purchase.pk
    assert (purchase.charge_type, purchase.status, purchase.amount) == ("destination", "paid", 5000)
    assert (purchase.checkout_session_id, purchase.checkout_url) == (
        "cs_old",
        "https://checkout.example/cs_old",
    )
    assert (purchase.charge_id, purchase.checkout_attempts, purchase.buyer_id) == (
        "ch_old",
        1,
        user.pk,
    )
    assert order.status == "fulfilled" and order.checkout_session_id == "cs_old"
    [line] = new.get_model("buyers", "OrderLine").objects.filter(order=order)
    assert (line.listing_id, line.title, line.unit_amount, line.quantity, line.amount) == (
        listing.pk,
        "Blue mug",
        2500,
        2,
        5000,
    )
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
