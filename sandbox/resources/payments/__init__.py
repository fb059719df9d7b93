"""PaymentIntents and Charges, with the money movement of a successful charge, by concern:

| module | what |
| --- | --- |
| `common.py` | constants (`ZERO_DECIMAL`, `APPLICATION_ID`, `PI_ACTIVE` ...), amount / destination / application-fee validation, `intent_row` |
| `intents.py` | `/v1/payment_intents` routes; `intent_create`, `intent_confirm`, `intent_authenticate`, `intent_cancel` |
| `attempts.py` | charging a payment method: card attempts, SEPA's delayed debit and its clock job, `capture` |
| `settlement.py` | `settle`: balance transactions, destination transfer, application fee of a captured charge |
| `charges.py` | `/v1/charges` routes |

Callers use ``sandbox.resources.payments.<name>``; every public name is re-exported here.
A card's behaviour comes from ``sandbox.cards`` (Stripe's test numbers and ``pm_card_*`` tokens).
"""

from sandbox.resources.payments import attempts, charges, common, intents, settlement  # noqa: F401
from sandbox.resources.payments.attempts import capture, settle_async_due
from sandbox.resources.payments.common import (
    APPLICATION_ID,
    CANCELABLE,
    JSON,
    PI_ACTIVE,
    ZERO_DECIMAL,
    check_amount,
    check_application_fee,
    check_destination,
    dispute_after_seconds,
    intent_row,
    minimum_amount,
)
from sandbox.resources.payments.intents import (
    intent_authenticate,
    intent_cancel,
    intent_confirm,
    intent_create,
)
from sandbox.resources.payments.settlement import (
    application_fee_create,
    destination_transfer,
    settle,
)

__all__ = [
    "APPLICATION_ID",
    "CANCELABLE",
    "JSON",
    "PI_ACTIVE",
    "ZERO_DECIMAL",
    "application_fee_create",
    "capture",
    "check_amount",
    "check_application_fee",
    "check_destination",
    "destination_transfer",
    "dispute_after_seconds",
    "intent_authenticate",
    "intent_cancel",
    "intent_confirm",
    "intent_create",
    "intent_row",
    "minimum_amount",
    "settle",
    "settle_async_due",
]
