"""Path converters: every path parameter that reaches the database is validated by one, so a
hostile value (a NUL byte, "..", unicode, a negative or 40-digit number, 10 KB of text) is a 404
from the resolver, never a query that fails. Registered on import; each app's urls.py imports
this module.

``<id:pk>``: a database id, 1-18 digits (always inside a 64-bit integer column).
``<stripe_id:charge_id>``: a Stripe object id, ``prefix_`` and ASCII letters, digits or
underscores (``ch_3Nx…``, ``py_…``, ``cs_test_…``), at most 255 characters like our columns.
"""

from __future__ import annotations

from django.urls import register_converter


class IdConverter:
    regex = "[0-9]{1,18}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int | str) -> str:
        return str(int(value))


class StripeIdConverter:
    regex = "[a-z]{1,16}_[A-Za-z0-9_]{1,238}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(IdConverter, "id")
register_converter(StripeIdConverter, "stripe_id")
