"""What webhook intake accepts, decided before anything is stored (one general rule).

A validly signed body is still input: Stripe never sends NaN, a NUL character, a lone surrogate,
nesting hundreds deep or a timestamp in the year 10^12, but a bug or a leaked secret could.
``event_parse`` decodes the body under bounds and ``check_storable`` walks the result once,
iteratively, refusing anything PostgreSQL's jsonb or our columns cannot hold; ``check_endpoint``
refuses an event delivered to the wrong kind of endpoint. Each raises ``ValueError`` with a
one-line reason, which the intake turns into its 400 (``IntakeError``): nothing is stored.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

# Stripe's events nest about ten levels; this is generous and far below Python's recursion limit.
MAX_DEPTH = 64
# jsonb numbers are arbitrary precision, but our handlers store integers in 64-bit columns.
MAX_INT = 2**63 - 1
# The latest second a timestamp column (and Python's datetime) can hold: 9999-12-31T23:59:59Z.
MAX_TIMESTAMP = 253_402_300_799


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError("number out of range")
    return value


def event_parse(body: bytes) -> Any:
    """The JSON value of ``body`` (UTF-8, standard JSON only), or ``ValueError``.

    ``NaN``/``Infinity`` and numbers that overflow a float are refused while parsing; nesting
    deeper than Python can parse is refused as too deep (the depth limit proper is
    ``check_storable``'s).
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError("body is not UTF-8") from None
    try:
        return json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
    except RecursionError:
        raise ValueError(f"JSON nested deeper than {MAX_DEPTH} levels") from None
    except ValueError as exc:
        raise ValueError(f"body is not JSON ({str(exc).splitlines()[0][:80]})") from None


def _check_text(text: str, where: str) -> None:
    if "\x00" in text:
        raise ValueError(f"NUL character in {where}")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"unpaired surrogate in {where}") from None


def check_storable(value: Any) -> None:
    """Every string (keys too) free of NUL and unpaired surrogates, every integer within 64 bits,
    nesting at most ``MAX_DEPTH``: what PostgreSQL's jsonb and our columns can store."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > MAX_DEPTH:
                raise ValueError(f"JSON nested deeper than {MAX_DEPTH} levels")
            if isinstance(item, dict):
                for key, child in item.items():
                    _check_text(key, "a key")
                    stack.append((child, depth + 1))
            else:
                stack.extend((child, depth + 1) for child in item)
        elif isinstance(item, str):
            _check_text(item, "a string")
        elif isinstance(item, bool) or item is None:
            continue
        elif isinstance(item, int):
            if not -MAX_INT <= item <= MAX_INT:
                raise ValueError("integer out of 64-bit range")
        elif isinstance(item, float) and not math.isfinite(item):
            raise ValueError("number out of range")


# What ``check_storable`` looks for can only come from these spellings in the raw body: a NUL or a
# lone surrogate only through a ``\u`` escape (strict JSON refuses raw control characters and
# the UTF-8 decoder refuses encoded surrogates), an integer beyond 64 bits only as 19 or more
# digits in a row. A body without any of them needs only the depth checked (a superset: a match
# inside a string, or an escaped backslash before "u0000", just takes the full walk).
_SUSPECT = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])|[0-9]{19}")


def check_depth(value: Any) -> None:
    """Nesting at most ``MAX_DEPTH`` (containers only: scalars are not visited)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise ValueError(f"JSON nested deeper than {MAX_DEPTH} levels")
        for child in item.values() if isinstance(item, dict) else item:
            if isinstance(child, dict | list):
                stack.append((child, depth + 1))


def check_storable_body(value: Any, body: bytes) -> None:
    """``check_storable(value)`` for ``value`` parsed from ``body``, walking every string and
    number only when the raw body could hold something it refuses (``_SUSPECT``); otherwise only
    the depth, and that only when the body has more than ``MAX_DEPTH`` brackets in all."""
    if _SUSPECT.search(body) is not None:
        check_storable(value)
    elif isinstance(value, dict | list) and body.count(b"{") + body.count(b"[") > MAX_DEPTH:
        check_depth(value)


def check_created(event: Any) -> None:
    """``created`` (if an integer) is a timestamp a datetime column can hold."""
    created = event.get("created") if isinstance(event, dict) else None
    if isinstance(created, int) and not isinstance(created, bool) and created > MAX_TIMESTAMP:
        raise ValueError("event created timestamp is out of range")


def check_endpoint(event: Any, *, connect: bool) -> None:
    """Connect endpoints receive connected accounts' events (``account`` set), the platform
    endpoint the platform's own (no ``account``), as Stripe sends them. Anything else was sent
    to the wrong endpoint, whatever its signature."""
    if not isinstance(event, dict):
        return  # not an event at all: the intake's own field checks say so
    account = event.get("account")
    if connect and not account:
        raise ValueError("event without account at the Connect endpoint")
    if not connect and account:
        raise ValueError("Connect event (account set) at the platform endpoint")


def event_check(body: bytes, *, connect: bool) -> Any:
    """Parse ``body`` and apply every check above: the event, or ``ValueError``."""
    event = event_parse(body)
    check_storable_body(event, body)
    check_created(event)
    check_endpoint(event, connect=connect)
    return event
