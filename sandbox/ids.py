"""Stripe-looking ids: a prefix and 24 random alphanumerics (``acct_1AbC…``)."""

from __future__ import annotations

import secrets
import string

_ALPHABET = string.ascii_letters + string.digits


def random_token(length: int = 24) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def new_id(prefix: str, length: int = 24) -> str:
    """``new_id("acct")`` -> ``acct_…`` with ``length`` random alphanumerics."""
    return f"{prefix}_{random_token(length)}"


def new_request_id() -> str:
    return new_id("req", 14)
