"""SEPA Direct Debit, the sandbox's delayed (asynchronous) payment method.

Stripe's test IBANs (docs.stripe.com/testing, "SEPA Direct Debit"): a PaymentIntent confirmed
with one goes to ``processing`` (charge ``pending``), then, after
``SANDBOX_ASYNC_PAYMENT_DELAY`` seconds of sandbox time (default 180), either ``succeeded`` or
back to ``requires_payment_method`` (charge ``failed``). Any other IBAN with a valid checksum
succeeds; a bad checksum is Stripe's 400 ``invalid_bank_account_iban``.

``payment_method_create(iban=, name=, email=, account=)`` stores a ``sepa_debit``
PaymentMethod (the full IBAN stays in ``private``); ``outcome(pm_id)`` says what its debit does.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from django.conf import settings

from sandbox import store
from sandbox.errors import invalid_request

JSON = dict[str, Any]

SUCCEEDS = "succeeds"
FAILS = "fails"

#: Stripe's SEPA test IBANs -> what the debit does (after the delay).
IBANS: dict[str, str] = {
    "DE89370400440532013000": SUCCEEDS,
    "AT611904300234573201": SUCCEEDS,
    "DE62370400440532013001": FAILS,
    "AT861904300235473202": FAILS,
}

#: (code, message) of a failed debit (charge ``failure_code`` / ``failure_message``).
FAILURE = (
    "insufficient_funds",
    "The customer's account has insufficient funds to cover this payment.",
)

#: Payment method types the sandbox's Checkout supports, and the currencies each accepts.
SUPPORTED_TYPES: dict[str, frozenset[str] | None] = {
    "card": None,  # any currency
    "sepa_debit": frozenset({"eur"}),
}

MANDATE_TEXT = (
    "By providing your payment information and confirming this payment, you authorise (A) "
    "the seller and Stripe, our payment service provider, to send instructions to your bank to "
    "debit your account and (B) your bank to debit your account in accordance with those "
    "instructions. As part of your rights, you are entitled to a refund from your bank under "
    "the terms and conditions of your agreement with your bank. A refund must be claimed "
    "within 8 weeks starting from the date on which your account was debited."
)


def delay_seconds() -> int:
    return int(getattr(settings, "SANDBOX_ASYNC_PAYMENT_DELAY", 180))


def normalize(iban: str) -> str:
    return re.sub(r"\s+", "", str(iban or "")).upper()


def iban_ok(iban: str) -> bool:
    """ISO 13616 check: country letters, two check digits, mod 97 of the rearranged number."""
    if not re.fullmatch(r"[A-Z]{2}\d{2}[A-Z0-9]{10,30}", iban):
        return False
    rearranged = iban[4:] + iban[:4]
    digits = "".join(str(int(ch, 36)) for ch in rearranged)
    return int(digits) % 97 == 1


def check_iban(iban: str, *, param: str = "sepa_debit[iban]") -> str:
    value = normalize(iban)
    if not iban_ok(value):
        raise invalid_request(
            "The IBAN you provided appears to be invalid. Please check the IBAN and try again.",
            param=param,
            code="invalid_bank_account_iban",
        )
    return value


def outcome(payment_method_id: str) -> str:
    """What the debit of a stored ``sepa_debit`` PaymentMethod does: ``succeeds`` / ``fails``."""
    iban = str(store.get_row(payment_method_id, object_type="payment_method").private["iban"])
    return IBANS.get(iban, SUCCEEDS)


def payment_method_json(iban: str, *, name: str, email: str | None) -> JSON:
    return {
        "allow_redisplay": "unspecified",
        "billing_details": store.billing_details(email=email or None, name=name or None),
        "customer": None,
        "livemode": False,
        "metadata": {},
        "sepa_debit": {
            "bank_code": iban[4:12],
            "branch_code": "",
            "country": iban[:2],
            "fingerprint": hashlib.sha256(iban.encode()).hexdigest()[:16],
            "generated_from": {"charge": None, "setup_attempt": None},
            "last4": iban[-4:],
        },
        "type": "sepa_debit",
    }


def payment_method_create(*, iban: str, name: str, email: str | None, account: str = "") -> JSON:
    """Store a ``sepa_debit`` PaymentMethod (400 ``invalid_bank_account_iban`` on a bad IBAN;
    Stripe requires the account holder's name and email for SEPA Direct Debit)."""
    value = check_iban(iban)
    if not name:
        raise invalid_request(
            "Missing required param: billing_details[name].",
            param="billing_details[name]",
            code="parameter_missing",
        )
    if not email:
        raise invalid_request(
            "Missing required param: billing_details[email].",
            param="billing_details[email]",
            code="parameter_missing",
        )
    return store.create(
        "pm",
        "payment_method",
        payment_method_json(value, name=name, email=email),
        account=account,
        private={"iban": value},
    )


def charge_details(pm: JSON, *, mandate: str, expected_debit_date: str) -> JSON:
    """``payment_method_details`` of a charge made with a ``sepa_debit`` PaymentMethod."""
    sepa = pm["sepa_debit"]
    return {
        "sepa_debit": {
            "bank_code": sepa["bank_code"],
            "branch_code": sepa["branch_code"],
            "country": sepa["country"],
            "expected_debit_date": expected_debit_date,
            "fingerprint": sepa["fingerprint"],
            "last4": sepa["last4"],
            "mandate": mandate,
        },
        "type": "sepa_debit",
    }
