"""API versions (``Stripe-Version``): which the sandbox serves and what differs between them.

The sandbox answers in the version of the installed stripe-python (``CURRENT``). A request may
pin an older version with the ``Stripe-Version`` header, as Stripe's samples and older SDKs
do; the sandbox serves every version from ``OLDEST`` on and emulates the documented differences
it knows (``payment_method_types`` on PaymentIntents and Checkout Sessions, below). Any other
version string gets a 400 naming the versions served; nothing differs silently.

Objects are rendered in the current version's shape. ``OLDEST`` is 2022-11-15, the version
that removed ``PaymentIntent.charges`` for ``latest_charge`` and stopped expanding a charge's
refunds (Stripe's changelog): an older client would read fields the sandbox does not render,
so older versions are refused rather than answered differently in silence.

Differences, from Stripe's changelog:
- ``2026-07-29.dahlia`` adds ``allowed_payment_method_types`` to PaymentIntents (filters
  incompatible types; mutually exclusive with ``payment_method_types``,
  ``excluded_payment_method_types``, ``automatic_payment_methods``).
- ``2026-09-30.endive`` removes ``payment_method_types`` as a writable parameter of
  PaymentIntents (create, update, confirm) and Checkout Sessions: passing it is a 400 with
  code ``payment_method_types_no_longer_supported``. Earlier versions accept it (an explicit
  list: a type that can't be used is an error).

The version is echoed in the ``Stripe-Version`` response header; events carry the version they
were rendered in (``api_version``), and a webhook endpoint created with ``api_version`` keeps it.
"""

from __future__ import annotations

import re
from typing import Any

import stripe

from sandbox.errors import StripeError

CURRENT = str(stripe.api_version)
OLDEST = "2022-11-15"
PAYMENT_METHOD_TYPES_REMOVED = "2026-09-30"
_FORMAT = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:\.[a-z]+)?$")

#: Routes whose older versions take ``payment_method_types`` (method, path pattern).
PAYMENT_METHOD_TYPES_ROUTES = {
    ("POST", "/v1/payment_intents"),
    ("POST", "/v1/payment_intents/{intent}"),
    ("POST", "/v1/payment_intents/{intent}/confirm"),
    ("POST", "/v1/checkout/sessions"),
}


def _date(version: str) -> str:
    match = _FORMAT.match(version)
    return match.group(1) if match else ""


def served() -> str:
    return f"{OLDEST} to {CURRENT}"


def check(version: str) -> str:
    """The version a request is answered in (``CURRENT`` when none is pinned); a 400 naming
    the versions served for anything else."""
    version = (version or "").strip()
    if not version:
        return CURRENT
    day = _date(version)
    if not day or day > _date(CURRENT) or day < OLDEST:
        raise StripeError(
            f"Invalid Stripe API version: {version}. The sandbox serves the API versions "
            f"{served()} (the version of the installed stripe-python is {CURRENT}).",
            status=400,
        )
    return version


def takes_payment_method_types(version: str) -> bool:
    return _date(version) < PAYMENT_METHOD_TYPES_REMOVED


def adapt(method: str, pattern: str, raw: dict[str, Any], version: str) -> dict[str, Any]:
    """The request's parameters in the current version's terms. ``payment_method_types`` is
    kept for versions that have it (routes read it as the explicit list) and refused, as Stripe
    does, for versions that removed it."""
    if "payment_method_types" not in raw or (method, pattern) not in PAYMENT_METHOD_TYPES_ROUTES:
        return raw
    if takes_payment_method_types(version):
        return raw
    raise StripeError(
        "The `payment_method_types` parameter is no longer supported in API version "
        f"{version}; use `allowed_payment_method_types` (or dynamic payment methods), or pin "
        f"Stripe-Version to a version before {PAYMENT_METHOD_TYPES_REMOVED}.",
        status=400,
        code="payment_method_types_no_longer_supported",
        param="payment_method_types",
    )


def legacy_list(value: Any) -> list[str]:
    """``payment_method_types`` as form-decoded (``[]=card`` or ``[0]=card``) -> a list."""
    if isinstance(value, dict):
        return [str(v) for _, v in sorted(value.items(), key=lambda kv: int(kv[0]))]
    if isinstance(value, list):
        return [str(v) for v in value]
    return [str(value)]
