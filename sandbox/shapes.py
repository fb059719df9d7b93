"""Complete object shapes: every top-level field the SDK's resource class declares.

Stripe returns every field of an object, ``null`` when it has no value, except fields that are
present only in some cases. ``complete(data)`` (called by ``store.create``) adds the declared
fields a resource module did not set, as ``null``; ``CONDITIONAL`` lists the fields Stripe
leaves out, with the reason, and ``sandbox.fidelity`` checks every other field is present.
"""

from __future__ import annotations

import typing
from typing import Any

from sandbox.fidelity import class_for, declared_fields

JSON = dict[str, Any]

#: Fields Stripe includes only in some responses (object type -> field -> why).
CONDITIONAL: dict[str, dict[str, str]] = {
    "*": {"deleted": "only on a deleted object"},
    "account": {
        "company": "only when business_type is company",
        "individual": "only when business_type is individual and the platform collects it",
    },
    "bank_account": {"customer": "only on a customer's bank account"},
    "charge": {"refunds": "includable: only with expand[]=refunds"},
    "checkout.session": {"line_items": "includable: only with expand[]=line_items"},
    "customer": {
        "cash_balance": "includable",
        "invoice_credit_balance": "includable",
        "sources": "includable",
        "subscriptions": "includable",
        "tax": "includable",
        "tax_ids": "includable",
    },
    "event": {
        "account": "only on Connect events",
        "context": "only on events of another account context (Accounts v2)",
    },
    "invoice": {
        "confirmation_secret": "includable: only with expand[]=confirmation_secret",
        "payments": "includable: only with expand[]=payments",
    },
    "price": {
        "currency_options": "includable",
        "tiers": "includable: only with expand[]=tiers",
    },
    "webhook_endpoint": {"secret": "only in the create response"},
}


def _payment_method_types() -> set[str]:
    cls: type | None = class_for("payment_method")
    tp = declared_fields(cls)["type"] if cls else None
    values: set[str] = set()
    for arg in typing.get_args(tp):
        values |= {v for v in typing.get_args(arg) if isinstance(v, str)}
    return values


def conditional(obj: JSON) -> dict[str, str]:
    """The fields ``obj`` may leave out, with the reason."""
    object_type = str(obj.get("object") or "")
    out = dict(CONDITIONAL["*"])
    out.update(CONDITIONAL.get(object_type, {}))
    if object_type == "payment_method":
        own = obj.get("type")
        for kind in _payment_method_types():
            if kind != own:
                out[kind] = "a PaymentMethod carries only the hash of its own type"
    return out


def complete(data: Any) -> Any:
    """Add, as null, every declared top-level field an API object lacks (except conditional
    ones), in ``data`` and in the API objects nested in it (expanded objects, list items, an
    event's object). Mutates and returns ``data``."""
    if isinstance(data, list):
        for item in data:
            complete(item)
        return data
    if not isinstance(data, dict):
        return data
    for value in data.values():
        if isinstance(value, (dict, list)):
            complete(value)
    object_type = data.get("object")
    if not isinstance(object_type, str) or object_type == "list":
        return data
    if "id" not in data and object_type not in TOP_LEVEL_WITHOUT_ID:
        return data
    cls: type | None = class_for(object_type)
    if cls is None or data.get("deleted") is True:
        return data
    skip = conditional(data)
    for key in declared_fields(cls):
        if key not in data and key not in skip:
            data[key] = None
    return data


#: Objects Stripe returns without an ``id``.
TOP_LEVEL_WITHOUT_ID = {"balance", "login_link", "account_link", "account_session"}
