"""Stripe's form encoding: ``a[b][0][c]=v`` <-> nested dicts.

Decoding keeps every bracket level as a dict key (``a[0]`` -> ``{"a": {"0": ...}}``) and ``a[]``
as a list; ``sandbox.validation`` turns integer-keyed dicts into lists where the SDK's params
declare a list. Values stay strings until validation coerces them.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl

from sandbox.errors import invalid_request

_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")
_PART = re.compile(r"\[([^\[\]]*)\]")


def decode(query: str) -> dict[str, Any]:
    """Parse an ``application/x-www-form-urlencoded`` body or query string into nested values."""
    result: dict[str, Any] = {}
    for raw_key, value in parse_qsl(query, keep_blank_values=True):
        match = _KEY.match(raw_key)
        if not match:
            raise invalid_request(f"Invalid parameter name: {raw_key}", param=raw_key)
        parts = [match.group(1), *_PART.findall(match.group(2))]
        _assign(result, parts, value, raw_key)
    return result


def _assign(container: dict[str, Any], parts: list[str], value: str, raw_key: str) -> None:
    head, rest = parts[0], parts[1:]
    if not rest:
        if head in container and isinstance(container[head], (dict, list)):
            raise invalid_request(f"Invalid value for {raw_key}", param=raw_key)
        container[head] = value
        return
    if rest[0] == "":
        # a[]=x appends; a[][b]=x is not supported by Stripe either.
        if len(rest) > 1:
            raise invalid_request(f"Invalid parameter name: {raw_key}", param=raw_key)
        existing = container.setdefault(head, [])
        if not isinstance(existing, list):
            raise invalid_request(f"Invalid array: {head}", param=head)
        existing.append(value)
        return
    child = container.setdefault(head, {})
    if not isinstance(child, dict):
        raise invalid_request(f"Invalid hash: {head}", param=head)
    _assign(child, rest, value, raw_key)


def param_path(parts: list[str]) -> str:
    """``["a", "b", "0"]`` -> ``a[b][0]`` (how Stripe names a nested parameter in errors)."""
    return parts[0] + "".join(f"[{part}]" for part in parts[1:])
