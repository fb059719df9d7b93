"""Helpers for the payments tests: an onboarded Express account (through the hosted
onboarding page), Checkout Sessions and paying them on the hosted checkout page."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlsplit

from tests.sandbox.test_accounts import create_express, onboarding_link, open_link, submit


def as_json(obj: Any) -> dict:
    return json.loads(str(obj))


def onboarded_account(sdk, web, *, account_number: str = "000123456789", **extra) -> Any:
    """An Express account onboarded on the sandbox page (transfers capability active)."""
    account = create_express(sdk, **extra)
    link = onboarding_link(sdk, account.id)
    page = open_link(web, link)
    response = submit(web, link, page, account_number=account_number)
    assert response.status_code == 302, response.content[:500]
    return sdk.v1.accounts.retrieve(account.id)


def session_params(
    destination: str | None = None,
    *,
    amount: int = 2000,
    fee: int | None = 200,
    quantity: int = 1,
    currency: str = "eur",
    **extra: Any,
) -> dict:
    params: dict[str, Any] = {
        "mode": "payment",
        "line_items": [
            {
                "price_data": {
                    "currency": currency,
                    "unit_amount": amount,
                    "product_data": {"name": "Blue mug"},
                },
                "quantity": quantity,
            }
        ],
        "success_url": "http://testserver/orders/done/?session_id={CHECKOUT_SESSION_ID}",
        "cancel_url": "http://testserver/cart/",
        "client_reference_id": "order-42",
        "metadata": {"order": "42"},
    }
    pid: dict[str, Any] = {"metadata": {"order": "42"}}
    if destination:
        pid["transfer_data"] = {"destination": destination}
    if fee is not None and destination:
        pid["application_fee_amount"] = fee
    params["payment_intent_data"] = pid
    params.update(extra)
    return params


def page_path(session) -> str:
    return urlsplit(session.url).path


def pay(web, session, number: str = "4242424242424242", email: str = "buyer@example.com"):
    """Submit the hosted checkout form; returns the response."""
    return web.post(
        page_path(session),
        {"email": email, "card_number": number, "expiry": "12 / 34", "cvc": "123", "name": "Bo"},
    )


def page_error(response) -> str | None:
    found = re.search(rb'id="checkout-error">([^<]*)<', response.content)
    return found.group(1).decode() if found else None


def destination_intent(
    sdk,
    destination: str,
    *,
    amount: int = 2000,
    fee: int | None = 200,
    payment_method: str = "pm_card_visa",
    **extra: Any,
):
    """A confirmed destination-charge PaymentIntent (raises the SDK's CardError on declines)."""
    params: dict[str, Any] = {
        "amount": amount,
        "currency": "eur",
        "payment_method": payment_method,
        "confirm": True,
        "transfer_data": {"destination": destination},
        **extra,
    }
    if fee is not None:
        params["application_fee_amount"] = fee
    return sdk.v1.payment_intents.create(params)


def balance(sdk, account: str | None = None, currency: str = "eur") -> tuple[int, int]:
    """(available, pending) of the platform or a connected account in ``currency``."""
    options = {"stripe_account": account} if account else {}
    found = sdk.v1.balance.retrieve(options=options)
    available = sum(b.amount for b in found.available if b.currency == currency)
    pending = sum(b.amount for b in found.pending if b.currency == currency)
    return available, pending
