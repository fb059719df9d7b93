"""Helpers for the billing tests: a plan (product + recurring price), a customer with a saved
card, a subscription paying a seller, the events of a type."""

from __future__ import annotations

from typing import Any

from sandbox import testing


def plan(sdk, *, amount: int = 1000, interval: str = "month", name: str = "Mug club", **extra):
    product = sdk.v1.products.create({"name": name})
    return sdk.v1.prices.create(
        {
            "product": product.id,
            "currency": "eur",
            "unit_amount": amount,
            "recurring": {"interval": interval, **extra},
        }
    )


def customer_with_card(sdk, card: str = "pm_card_visa", email: str = "member@example.com"):
    customer = sdk.v1.customers.create({"email": email})
    pm = sdk.v1.payment_methods.attach(card, {"customer": customer.id})
    return customer, pm


def subscribe(sdk, seller_id: str, price_id: str, *, card: str = "pm_card_visa", **extra: Any):
    customer, pm = customer_with_card(sdk, card)
    params: dict[str, Any] = {
        "customer": customer.id,
        "items": [{"price": price_id}],
        "default_payment_method": pm.id,
        "application_fee_percent": 10,
        "transfer_data": {"destination": seller_id},
        "metadata": {"plan": "club"},
    }
    params.update(extra)
    return sdk.v1.subscriptions.create(params)


def event_types(prefix: str = "") -> list[str]:
    return [e["type"] for e in testing.events() if e["type"].startswith(prefix)]


def events_of(event_type: str) -> list[dict]:
    return [e for e in testing.events() if e["type"] == event_type]
