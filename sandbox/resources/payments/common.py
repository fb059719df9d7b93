"""What the PaymentIntents, charges and settlement modules share: constants, amount /
destination / application-fee validation, the locked intent row and small helpers."""

from __future__ import annotations

import hashlib
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings

from sandbox import store
from sandbox.errors import StripeError, invalid_request
from sandbox.models import SandboxObject

JSON = dict[str, Any]

APPLICATION_ID = "ca_" + hashlib.sha256(b"sandbox").hexdigest()[:24]
ZERO_DECIMAL = {
    "bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv",
    "xaf", "xof", "xpf",
}  # fmt: skip

PI_ACTIVE = ("requires_payment_method", "requires_confirmation", "requires_action")
CANCELABLE = (*PI_ACTIVE, "requires_capture", "processing")


def _event_account(account: str) -> str | None:
    return account or None


def dispute_after_seconds() -> int:
    return int(getattr(settings, "SANDBOX_DISPUTE_AFTER", 60))


def minimum_amount(currency: str) -> int:
    return 50 if currency not in ZERO_DECIMAL else 50 if currency == "jpy" else 1


# --- validation --------------------------------------------------------------------------------
def check_amount(amount: Any, currency: str, *, param: str = "amount") -> int:
    if amount is None:
        raise invalid_request(
            "Missing required param: amount.", param=param, code="parameter_missing"
        )
    value = int(amount)
    if value < minimum_amount(currency):
        raise invalid_request(
            "Amount must be at least 50 cents"
            if currency not in ZERO_DECIMAL
            else f"Amount must be at least {minimum_amount(currency)} {currency}",
            param=param,
            code="amount_too_small",
        )
    if value > 99999999:
        raise invalid_request(
            "Amount must be no more than $999,999.99", param=param, code="amount_too_large"
        )
    return value


def check_destination(destination: Any, *, param: str = "transfer_data[destination]") -> str:
    """An existing connected account with the transfers capability active, else Stripe's 400."""
    dest = str(destination or "")
    row = SandboxObject.objects.filter(pk=dest, object="account", account="").first()
    if row is None or row.deleted or row.private.get("deauthorized"):
        raise invalid_request(
            f"No such destination: '{dest}'", param=param, code="resource_missing"
        )
    capabilities = row.data.get("capabilities") or {}
    if capabilities.get("transfers") != "active":
        raise invalid_request(
            "Your destination account needs to have at least one of the following capabilities "
            "enabled: transfers, crypto_transfers, legacy_payments",
            param=param,
            code="insufficient_capabilities_for_transfer",
        )
    return dest


def check_application_fee(
    fee: Any, amount: int, *, account: str, destination: str | None
) -> int | None:
    if fee is None or fee == "":
        return None
    value = int(fee)
    if value < 0:
        raise invalid_request(
            "Invalid application_fee_amount: must be at least 0",
            param="application_fee_amount",
        )
    if not account and not destination:
        raise invalid_request(
            "Can only apply an application_fee_amount when the PaymentIntent is attempting a "
            "direct payment (using an OAuth key or Stripe-Account header) or destination "
            "payment (using `transfer_data[destination]`).",
            param="application_fee_amount",
        )
    if value > amount:
        raise invalid_request(
            "The application fee amount must be less than or equal to the amount of the "
            f"PaymentIntent ({amount}).",
            param="application_fee_amount",
        )
    return value


def check_return_url(url: Any, *, param: str = "return_url") -> str | None:
    """``return_url`` must be an absolute http(s) URL (Stripe's 400 "Not a valid URL"), since
    the browser is sent there after 3D Secure."""
    if url is None or url == "":
        return None
    parts = urlsplit(str(url))
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise invalid_request("Not a valid URL", param=param, code="url_invalid")
    return str(url)


# --- the intent row ----------------------------------------------------------------------------
def intent_row(pi_id: str, *, account: str | None, for_update: bool = True) -> SandboxObject:
    return store.get_row(
        pi_id,
        object_type="payment_intent",
        account=account,
        for_update=for_update,
        name="payment_intent",
        param="intent",
    )


def _unexpected_state(pi: JSON, action: str) -> StripeError:
    return StripeError(
        f"This PaymentIntent's {action} could not be performed because it has a status of "
        f"{pi['status']}.",
        code="payment_intent_unexpected_state",
        extra={"payment_intent": pi},
    )


def _raise_if(error: StripeError | None) -> None:
    if error is not None:
        raise error
