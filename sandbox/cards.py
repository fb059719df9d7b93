"""Stripe's test cards and test PaymentMethod tokens, and what each one does.

``behaviour(number)`` tells the payment resources what a card does when charged:
``decline_code`` (None = approved), ``requires_action`` (3D Secure challenge on session),
``authenticated_once`` (off session: needs no new challenge once the card was set up with one;
otherwise an off-session charge fails with ``authentication_required``), ``dispute`` (succeeds,
then is disputed), ``available_immediately`` (funds skip the pending period).
``check_reusable(pm_id, customer=...)`` refuses a detached card and another customer's card.
``payment_method_create(number=..., account=...)`` stores a card PaymentMethod;
``resolve(id_or_token, account=...)`` turns ``pm_card_visa``-style tokens into a fresh
PaymentMethod (as Stripe does) and fetches stored ``pm_…`` ids.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from sandbox import store
from sandbox.errors import card_error, invalid_request

JSON = dict[str, Any]


@dataclass(frozen=True)
class CardBehaviour:
    brand: str
    funding: str = "credit"
    country: str = "US"
    decline_code: str | None = None  # Stripe's decline_code / error code when declined
    error_code: str = "card_declined"
    message: str = "Your card was declined."
    requires_action: bool = False  # 3D Secure challenge
    # Off session, after the card was set up (SetupIntent, or setup_future_usage) with a
    # challenge: charged without one (4000002500003155). False: every charge asks (3184).
    authenticated_once: bool = False
    dispute: str | None = None  # dispute reason: succeeds, then disputed
    available_immediately: bool = False
    # set up / attached without error; only charges are declined (4000000000000341)
    declines_charges_only: bool = False


CARDS: dict[str, CardBehaviour] = {
    "4242424242424242": CardBehaviour("visa"),
    "4000056655665556": CardBehaviour("visa", funding="debit"),
    "5555555555554444": CardBehaviour("mastercard"),
    "2223003122003222": CardBehaviour("mastercard"),
    "378282246310005": CardBehaviour("amex"),
    "4000002500000003": CardBehaviour("visa", country="FR"),
    "4000000000000077": CardBehaviour("visa", available_immediately=True),
    "4000000000000002": CardBehaviour("visa", decline_code="generic_decline"),
    # attaches to a customer, then every charge is declined (renewals failing)
    "4000000000000341": CardBehaviour(
        "visa", decline_code="generic_decline", declines_charges_only=True
    ),
    "4000000000009995": CardBehaviour(
        "visa", decline_code="insufficient_funds", message="Your card has insufficient funds."
    ),
    "4000000000009987": CardBehaviour("visa", decline_code="lost_card"),
    "4000000000009979": CardBehaviour("visa", decline_code="stolen_card"),
    "4000000000000069": CardBehaviour(
        "visa",
        decline_code="expired_card",
        error_code="expired_card",
        message="Your card has expired.",
    ),
    "4000000000000127": CardBehaviour(
        "visa",
        decline_code="incorrect_cvc",
        error_code="incorrect_cvc",
        message="Your card's security code is incorrect.",
    ),
    "4000000000000119": CardBehaviour(
        "visa",
        decline_code="processing_error",
        error_code="processing_error",
        message="An error occurred while processing your card. Try again in a little bit.",
    ),
    "4000002500003155": CardBehaviour("visa", requires_action=True, authenticated_once=True),
    "4000002760003184": CardBehaviour("visa", requires_action=True),
    "4000000000003220": CardBehaviour("visa", requires_action=True),
    "4000000000000259": CardBehaviour("visa", dispute="fraudulent"),
    "4000000000002685": CardBehaviour("visa", dispute="product_not_received"),
}

TOKENS: dict[str, str] = {
    "pm_card_visa": "4242424242424242",
    "pm_card_visa_debit": "4000056655665556",
    "pm_card_mastercard": "5555555555554444",
    "pm_card_amex": "378282246310005",
    "pm_card_fr": "4000002500000003",
    "pm_card_bypassPending": "4000000000000077",
    "pm_card_chargeDeclined": "4000000000000002",
    "pm_card_chargeCustomerFail": "4000000000000341",
    "pm_card_visa_chargeDeclined": "4000000000000002",
    "pm_card_chargeDeclinedInsufficientFunds": "4000000000009995",
    "pm_card_visa_chargeDeclinedInsufficientFunds": "4000000000009995",
    "pm_card_chargeDeclinedLostCard": "4000000000009987",
    "pm_card_chargeDeclinedStolenCard": "4000000000009979",
    "pm_card_chargeDeclinedExpiredCard": "4000000000000069",
    "pm_card_chargeDeclinedIncorrectCvc": "4000000000000127",
    "pm_card_chargeDeclinedProcessingError": "4000000000000119",
    "pm_card_authenticationRequiredOnSetup": "4000002500003155",
    "pm_card_authenticationRequired": "4000002760003184",
    "pm_card_threeDSecure2Required": "4000000000003220",
    "pm_card_createDispute": "4000000000000259",
    "pm_card_createDisputeProductNotReceived": "4000000000002685",
}
TOKENS.update({f"tok_{name[len('pm_card_') :]}": number for name, number in TOKENS.items()})


def normalize(number: str) -> str:
    return "".join(ch for ch in number if ch.isdigit())


def luhn_ok(number: str) -> bool:
    digits = [int(d) for d in number]
    checksum = 0
    for index, digit in enumerate(reversed(digits)):
        if index % 2 == 1:
            digit *= 2
            if digit > 9:
                digit -= 9
        checksum += digit
    return bool(digits) and checksum % 10 == 0


def behaviour(number: str) -> CardBehaviour:
    """What charging this card does; unknown valid numbers behave like 4242."""
    number = normalize(number)
    if number in CARDS:
        return CARDS[number]
    brand = {"4": "visa", "5": "mastercard", "3": "amex"}.get(number[:1], "unknown")
    return CardBehaviour(brand)


def check_number(number: str, *, param: str = "card[number]") -> str:
    """A usable test card number, or the 402 ``incorrect_number`` Stripe answers."""
    number = normalize(number)
    if not (13 <= len(number) <= 19) or not luhn_ok(number):
        raise card_error(
            "Your card number is incorrect.",
            code="incorrect_number",
            param=param,
            keep_changes=False,
        )
    return number


def payment_method_json(number: str, exp_month: int, exp_year: int) -> JSON:
    info = behaviour(number)
    return {
        "allow_redisplay": "unspecified",
        "billing_details": store.billing_details(),
        "card": {
            "brand": info.brand,
            "checks": {
                "address_line1_check": None,
                "address_postal_code_check": None,
                "cvc_check": "unchecked",
            },
            "country": info.country,
            "display_brand": info.brand,
            "exp_month": exp_month,
            "exp_year": exp_year,
            "fingerprint": hashlib.sha256(number.encode()).hexdigest()[:16],
            "funding": info.funding,
            "generated_from": None,
            "last4": number[-4:],
            "networks": {"available": [info.brand], "preferred": None},
            "regulated_status": "unregulated",
            "three_d_secure_usage": {"supported": True},
            "wallet": None,
        },
        "customer": None,
        "livemode": False,
        "metadata": {},
        "type": "card",
    }


def payment_method_create(
    *, number: str, exp_month: int = 12, exp_year: int = 2034, account: str = ""
) -> JSON:
    """Store a card PaymentMethod (``private["number"]`` keeps the full test number)."""
    number = check_number(number)
    return store.create(
        "pm",
        "payment_method",
        payment_method_json(number, exp_month, exp_year),
        account=account,
        private={"number": number},
    )


def resolve(id_or_token: str, *, account: str = "", param: str = "payment_method") -> JSON:
    """``pm_card_visa`` / ``tok_visa`` -> a new PaymentMethod; ``pm_…`` -> the stored one."""
    if id_or_token in TOKENS:
        return payment_method_create(number=TOKENS[id_or_token], account=account)
    if not id_or_token.startswith("pm_"):
        raise invalid_request(
            f"No such PaymentMethod: '{id_or_token}'",
            param=param,
            code="resource_missing",
            status=404,
        )
    return store.get(
        id_or_token,
        object_type="payment_method",
        account=account,
        name="PaymentMethod",
        param=param,
    )


REUSE_MESSAGE = (
    "The provided PaymentMethod was previously used with a PaymentIntent without Customer "
    "attachment, shared with a connected account without Customer attachment, or was detached "
    "from a Customer. It may not be used again. To use a PaymentMethod multiple times, you must "
    "attach it to a Customer first."
)


def check_reusable(
    payment_method_id: str, *, customer: str | None, param: str = "payment_method"
) -> None:
    """A detached PaymentMethod may not be used again, and a customer's PaymentMethod is
    usable only for that customer (Stripe's 400s)."""
    row = store.get_row(payment_method_id, object_type="payment_method")
    if row.private.get("detached"):
        raise invalid_request(REUSE_MESSAGE, param=param)
    owner = row.data.get("customer")
    if owner and owner != customer:
        raise invalid_request(
            f"The provided PaymentMethod belongs to the Customer {owner}. Please include the "
            "Customer in the `customer` parameter on the PaymentIntent.",
            param=param,
        )


def mark_set_up(payment_method_id: str, *, authenticated: bool) -> None:
    """Remember that the card was set up for future use (with a 3D Secure challenge or not)."""
    row = store.get_row(payment_method_id, object_type="payment_method", for_update=True)
    row.private["set_up"] = True
    if authenticated:
        row.private["authenticated"] = True
    store.save(row)


def off_session_ready(payment_method_id: str) -> bool:
    """Whether an off-session charge of this card passes without a new challenge."""
    row = store.get_row(payment_method_id, object_type="payment_method")
    info = behaviour(str(row.private.get("number") or ""))
    if not info.requires_action:
        return True
    return info.authenticated_once and bool(row.private.get("authenticated"))


def number_of(payment_method_id: str) -> str:
    """The full test card number behind a stored PaymentMethod."""
    return str(store.get_row(payment_method_id, object_type="payment_method").private["number"])
