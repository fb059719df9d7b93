"""Check request params against the SDK's TypedDicts (``stripe.params``) and coerce form strings.

``validate(params, stripe.params.AccountCreateParams)`` returns a new dict where every value has
its declared type (``"true"`` -> True, ``"42"`` -> 42, ``{"0": ..., "1": ...}`` -> list ...). An
unknown key is a 400 ``parameter_unknown`` naming it (``a[b][c]``); a value of the wrong type a
400 naming it (code ``parameter_invalid_integer`` / ``parameter_invalid_empty`` ..., as Stripe);
a missing required key a 400 ``parameter_missing``. The request-option keys every params class
inherits from ``RequestOptions`` (``stripe_account``, ``idempotency_key`` ...) are headers on the
wire, never form params, so they are unknown here.
"""

from __future__ import annotations

import functools
import types
import typing
from collections.abc import Mapping
from typing import Any, Literal, Union

from stripe._request_options import RequestOptions
from stripe._stripe_object import UntypedStripeObject

from sandbox.errors import StripeError, invalid_request, parameter_missing, parameter_unknown
from sandbox.formdecode import param_path

_REQUEST_OPTION_KEYS = frozenset(RequestOptions.__annotations__)
# Names RequestOptions' own annotations refer to (its module imports them, the params modules
# do not), so that get_type_hints can evaluate inherited annotations.
_LOCALNS: dict[str, Any] = {
    "StripeContext": object,
    "Mapping": Mapping,
    "Optional": typing.Optional,
    "Dict": dict,
    "Tuple": tuple,
    "Any": Any,
}


def is_typeddict(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, dict) and hasattr(tp, "__required_keys__")


@functools.cache
def fields_of(cls: type) -> tuple[dict[str, Any], frozenset[str]]:
    """The declared params of a TypedDict (request options excluded) and its required keys."""
    hints = typing.get_type_hints(cls, localns=_LOCALNS)
    inherits_options = issubclass(cls, dict) and any(
        base is RequestOptions or getattr(base, "__name__", "") == "RequestOptions"
        for base in getattr(cls, "__orig_bases__", ())
    )
    if inherits_options or set(hints) >= _REQUEST_OPTION_KEYS:
        hints = {k: v for k, v in hints.items() if k not in _REQUEST_OPTION_KEYS}
    required = frozenset(k for k in getattr(cls, "__required_keys__", ()) if k in hints)
    return hints, required


def validate(params: Mapping[str, Any], cls: type | None) -> dict[str, Any]:
    """Validate and coerce top-level ``params`` against ``cls`` (None: only ``expand`` allowed)."""
    if cls is None:
        hints: dict[str, Any] = {"expand": list[str]}
        required: frozenset[str] = frozenset()
    else:
        hints, required = fields_of(cls)
    return _typed_dict(params, hints, required, [])


def _typed_dict(
    value: Any, hints: dict[str, Any], required: frozenset[str], path: list[str]
) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise invalid_request(
            f"Invalid object: {param_path(path)} must be a hash", param=param_path(path)
        )
    result: dict[str, Any] = {}
    for key, item in value.items():
        key_path = [*path, str(key)]
        if key not in hints:
            raise parameter_unknown(param_path(key_path))
        result[key] = coerce(item, hints[key], key_path)
    for key in sorted(required):
        if key not in value:
            raise parameter_missing(param_path([*path, key]))
    return result


def _as_list(value: Any, path: list[str]) -> list[Any]:
    if isinstance(value, list):
        return value
    if isinstance(value, Mapping) and all(str(k).isdigit() for k in value):
        return [value[k] for k in sorted(value, key=lambda k: int(k))]
    if value == "":
        return []
    raise invalid_request(
        f"Invalid array: {param_path(path)} must be an array",
        param=param_path(path),
    )


def coerce(value: Any, tp: Any, path: list[str]) -> Any:
    """Coerce one value to the declared type ``tp`` or raise a Stripe-shaped 400."""
    name = param_path(path)
    if tp is Any or tp is object:
        return value
    origin = typing.get_origin(tp)
    if origin is Union or origin is types.UnionType:
        return _union(value, typing.get_args(tp), path)
    if origin is Literal:
        options = typing.get_args(tp)
        if value in options:
            return value
        # bool/int literals arrive as strings
        for option in options:
            if str(option).lower() == str(value).lower() and not isinstance(value, (dict, list)):
                return option
        listed = ", ".join(repr(o) if o == "" else str(o) for o in options)
        raise invalid_request(f"Invalid {name}: must be one of {listed}", param=name)
    if origin in (list, typing.List):  # noqa: UP006
        (item_type,) = typing.get_args(tp) or (Any,)
        items = _as_list(value, path)
        return [coerce(item, item_type, [*path, str(i)]) for i, item in enumerate(items)]
    if origin in (dict, typing.Dict) or (  # noqa: UP006
        isinstance(origin, type) and issubclass(origin, UntypedStripeObject)
    ):
        args = typing.get_args(tp)
        value_type = args[-1] if args else Any
        if not isinstance(value, Mapping):
            raise invalid_request(f"Invalid object: {name} must be a hash", param=name)
        return {str(k): coerce(v, value_type, [*path, str(k)]) for k, v in value.items()}
    if is_typeddict(tp):
        hints, required = fields_of(tp)
        return _typed_dict(value, hints, required, path)
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            # stripe-python before 11 sends Python's spelling ("True"), which Stripe accepts
            return value.lower() == "true"
        raise invalid_request(f"Invalid boolean: {value}", param=name)
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str):
            text = value.strip()
            if text.lstrip("-").isdigit():
                return int(text)
            if text == "":
                raise StripeError(
                    f"Invalid integer: {name} cannot be blank",
                    param=name,
                    code="parameter_invalid_empty",
                )
        raise StripeError(f"Invalid integer: {value}", param=name, code="parameter_invalid_integer")
    if tp is float:
        try:
            if isinstance(value, (str, int, float)) and not isinstance(value, bool):
                return float(value)
        except ValueError:
            pass
        raise invalid_request(f"Invalid decimal: {value}", param=name)
    if tp is str:
        if isinstance(value, str):
            return value
        raise invalid_request(f"Invalid string: {name} must be a string", param=name)
    if isinstance(tp, type) and isinstance(value, tp):
        return value
    # A type the walker does not know (rare in stripe.params): accept as sent.
    return value


def _shape(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin in (list, typing.List):  # noqa: UP006
        return "list"
    if (
        origin in (dict, typing.Dict)  # noqa: UP006
        or is_typeddict(tp)
        or (isinstance(origin, type) and issubclass(origin, UntypedStripeObject))
    ):
        return "dict"
    return "scalar"


def _union(value: Any, options: tuple[Any, ...], path: list[str]) -> Any:
    if isinstance(value, list):
        wanted = "list"
    elif isinstance(value, Mapping):
        wanted = "dict"
    else:
        wanted = "scalar"
    candidates = [o for o in options if o is not type(None) and _shape(o) == wanted]
    # The SDK widens enums to ``Literal[...] | str`` for forward compatibility; the API (this
    # version) accepts only the listed values, so a Literal with real values wins over ``str``.
    if any(
        typing.get_origin(o) is Literal and any(v != "" for v in typing.get_args(o))
        for o in candidates
    ):
        candidates = [o for o in candidates if o is not str]
    if wanted == "dict" and not candidates:
        # an integer-keyed hash may be an array
        candidates = [o for o in options if _shape(o) == "list"]
    if wanted == "scalar":
        # "" also unsets a list or hash param; try the most specific scalars first
        order: dict[Any, int] = {bool: 1, int: 2, float: 3, str: 5}

        def rank(option: Any) -> int:
            origin: Any = typing.get_origin(option)
            return 0 if origin is Literal else order.get(option, 4)

        candidates.sort(key=rank)
    if not candidates:
        name = param_path(path)
        raise invalid_request(f"Invalid value for {name}", param=name)
    first_error: StripeError | None = None
    for option in candidates:
        try:
            return coerce(value, option, path)
        except StripeError as exc:
            if first_error is None or (
                first_error.code != "parameter_unknown" and exc.code == "parameter_unknown"
            ):
                first_error = exc
    assert first_error is not None
    raise first_error
