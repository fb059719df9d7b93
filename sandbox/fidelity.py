"""Check sandbox objects against the SDK's resource classes (``stripe.Account`` ...).

``check_object(obj_json)`` raises ``FidelityError`` listing every problem: a field the class does
not declare, a declared non-Optional field that is missing, or a value of the wrong shape
(recursively: nested hashes against the inner classes such as ``Account.Requirements``, lists,
list objects, expanded objects, and an event's ``data.object`` against its own class).
``problems(obj_json)`` returns the list instead. The class comes from the object's ``object``
field (``stripe._object_classes.OBJECT_CLASSES``).
"""

from __future__ import annotations

import functools
import importlib
import inspect
import re
import types
import typing
from typing import Any, Literal, Union

import stripe
from stripe._list_object import ListObject
from stripe._stripe_object import StripeObject, UntypedStripeObject


class FidelityError(AssertionError):
    pass


class _Namespace(dict[str, Any]):
    def __missing__(self, key: str) -> Any:
        value = getattr(stripe, key, None)
        if value is None:
            # classes outside the top-level namespace (stripe.test_helpers.TestClock ...)
            from stripe._object_classes import OBJECT_CLASSES

            for module, name in OBJECT_CLASSES.values():
                if name == key:
                    return getattr(importlib.import_module(module), name)
            raise KeyError(key)
        return value


def class_for(object_type: str) -> type[StripeObject] | None:
    from stripe._object_classes import OBJECT_CLASSES

    entry = OBJECT_CLASSES.get(object_type)
    if entry is None:
        return None
    module, name = entry
    cls: type[StripeObject] = getattr(importlib.import_module(module), name)
    return cls


_ALIAS = re.compile(r"^\s*from (stripe[\w.]*) import (\w+) as (\w+)\s*$", re.MULTILINE)


def _aliases(cls: type) -> _Namespace:
    """The namespace for ``cls``'s annotations, with the SDK's TYPE_CHECKING-only aliases
    (``from stripe._card import Card as CardResource``) resolved."""
    namespace = _Namespace()
    module = inspect.getmodule(cls)
    try:
        source = inspect.getsource(module) if module is not None else ""
    except (OSError, TypeError):
        source = ""
    for module_name, name, alias in _ALIAS.findall(source):
        try:
            namespace[alias] = getattr(importlib.import_module(module_name), name)
        except (ImportError, AttributeError):
            continue
    return namespace


@functools.cache
def declared_fields(cls: type) -> dict[str, Any]:
    """Public, non-ClassVar annotations of a StripeObject class, keyed by the API's names."""
    hints = typing.get_type_hints(cls, localns=_aliases(cls))
    remap = {v: k for k, v in getattr(cls, "_field_remappings", {}).items()}
    fields: dict[str, Any] = {}
    for name, tp in hints.items():
        if name.startswith("_") or typing.get_origin(tp) is typing.ClassVar:
            continue
        fields[remap.get(name, name)] = tp
    return fields


def _is_optional(tp: Any) -> bool:
    return type(None) in typing.get_args(tp) if _is_union(tp) else tp is Any


def _is_union(tp: Any) -> bool:
    return typing.get_origin(tp) in (Union, types.UnionType)


def problems(obj: Any, *, where: str = "") -> list[str]:
    """Every mismatch between ``obj`` (a Stripe object's JSON) and its SDK class."""
    if not isinstance(obj, dict) or "object" not in obj:
        return [f"{where or '<root>'}: not a Stripe object (no 'object' field)"]
    cls = class_for(str(obj["object"]))
    if cls is None:
        return [f"{where or '<root>'}: the SDK knows no object type {obj['object']!r}"]
    return _check_class(obj, cls, where or str(obj["object"]), strict=True)


def check_object(obj: Any) -> None:
    """Raise ``FidelityError`` unless ``obj`` matches its SDK resource class."""
    found = problems(obj)
    if found:
        raise FidelityError(
            f"{obj.get('object') if isinstance(obj, dict) else obj!r} does not match the SDK:\n  "
            + "\n  ".join(found)
        )


def check_list(obj: Any) -> None:
    """A list object and each of its items."""
    found = _check_type(obj, ListObject[Any], "list")
    if found:
        raise FidelityError("\n  ".join(found))


def _check_class(obj: dict[str, Any], cls: type, where: str, *, strict: bool = False) -> list[str]:
    """``strict`` (API objects: the root, list items, expanded objects, an event's object):
    every declared field must be present (null when unset), except the fields Stripe returns
    only in some cases (``sandbox.shapes.CONDITIONAL``); inner hashes: non-Optional fields."""
    fields = declared_fields(cls)
    found: list[str] = []
    for key, value in obj.items():
        if key not in fields:
            found.append(f"{where}.{key}: not declared by {cls.__qualname__}")
            continue
        found.extend(_check_type(value, fields[key], f"{where}.{key}"))
    if obj.get("deleted") is True:
        return found  # a deleted object is {"id", "object", "deleted"}
    skip: dict[str, str] = {}
    if strict:
        from sandbox.shapes import conditional

        skip = conditional(obj)
    for key, tp in fields.items():
        if key in obj:
            continue
        if not _is_optional(tp):
            found.append(f"{where}.{key}: missing (declared non-Optional by {cls.__qualname__})")
        elif strict and key not in skip:
            found.append(f"{where}.{key}: missing (declared by {cls.__qualname__}; null if unset)")
    if isinstance(obj.get("data"), dict) and cls is stripe.Event:
        inner = obj["data"].get("object")
        if isinstance(inner, dict):
            found.extend(problems(inner, where=f"{where}.data.object"))
    return found


def _check_type(value: Any, tp: Any, where: str) -> list[str]:
    if tp is Any or tp is object:
        return []
    if _is_union(tp):
        options = typing.get_args(tp)
        if value is None:
            return [] if type(None) in options else [f"{where}: null but not Optional"]
        results = [
            _check_type(value, option, where) for option in options if option is not type(None)
        ]
        for result in results:
            if not result:
                return []
        # report the closest option: the one of the value's shape, else the first
        for option, result in zip(
            [o for o in options if o is not type(None)], results, strict=True
        ):
            if _shape_matches(value, option):
                return result
        return results[0] if results else []
    if value is None:
        return [f"{where}: null but not Optional"]
    origin = typing.get_origin(tp)
    if origin is Literal:
        return [] if value in typing.get_args(tp) else [f"{where}: {value!r} not in {tp}"]
    if origin in (list, typing.List):  # noqa: UP006
        if not isinstance(value, list):
            return [f"{where}: expected a list, got {type(value).__name__}"]
        (item,) = typing.get_args(tp) or (Any,)
        out: list[str] = []
        for index, element in enumerate(value):
            out.extend(_check_type(element, item, f"{where}[{index}]"))
        return out
    if origin in (dict, typing.Dict) or (  # noqa: UP006
        isinstance(origin, type) and issubclass(origin, UntypedStripeObject)
    ):
        return [] if isinstance(value, dict) else [f"{where}: expected a hash"]
    if origin is not None and isinstance(origin, type) and issubclass(origin, ListObject):
        if not isinstance(value, dict) or value.get("object") != "list":
            return [f"{where}: expected a list object"]
        out = []
        for key in ("data", "has_more", "url"):
            if key not in value:
                out.append(f"{where}.{key}: missing from list object")
        extra = set(value) - {"object", "data", "has_more", "url", "total_count"}
        out.extend(f"{where}.{key}: not a list object field" for key in sorted(extra))
        (item,) = typing.get_args(tp) or (Any,)
        for index, element in enumerate(value.get("data") or []):
            out.extend(_check_type(element, item, f"{where}.data[{index}]"))
        return out
    if isinstance(tp, type) and issubclass(tp, StripeObject):
        if not isinstance(value, dict):
            return [f"{where}: expected a hash ({tp.__qualname__})"]
        if ("object" in value and issubclass(tp, stripe.APIResource)) or (
            "object" in value and class_for(str(value["object"])) is not None
        ):
            cls = class_for(str(value["object"]))
            if cls is not None and tp is not StripeObject:
                return _check_class(value, cls, where, strict="id" in value)
        if tp is StripeObject:
            return []
        return _check_class(value, tp, where)
    if tp is bool:
        return [] if isinstance(value, bool) else [f"{where}: expected a boolean"]
    if tp is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
        return [] if ok else [f"{where}: expected an integer, got {value!r}"]
    if tp is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        return [] if ok else [f"{where}: expected a number"]
    if tp is str:
        return [] if isinstance(value, str) else [f"{where}: expected a string, got {value!r}"]
    return []


def _shape_matches(value: Any, tp: Any) -> bool:
    origin = typing.get_origin(tp)
    if isinstance(value, dict):
        return (isinstance(tp, type) and issubclass(tp, StripeObject)) or (
            origin is not None
            and (
                origin in (dict, dict)
                or (isinstance(origin, type) and issubclass(origin, ListObject))
            )
        )
    if isinstance(value, list):
        return origin in (list, typing.List)  # noqa: UP006
    return not isinstance(value, (dict, list))


def default_of(cls: type) -> dict[str, Any]:
    """A hash of ``cls`` (a StripeObject inner class) with every declared field at its neutral
    value: null for Optional fields, ``False`` / ``0`` / ``""`` / ``[]`` / the first enum value
    for required ones, nested classes built the same way. For shapes whose values the sandbox
    does not model (e.g. an Account Session's component features), so they keep every field."""
    out: dict[str, Any] = {}
    for key, tp in declared_fields(cls).items():
        out[key] = _neutral(tp)
    return out


def _neutral(tp: Any) -> Any:
    if _is_union(tp):
        if type(None) in typing.get_args(tp):
            return None
        tp = typing.get_args(tp)[0]
    origin = typing.get_origin(tp)
    if origin is Literal:
        return typing.get_args(tp)[0]
    if origin in (list, typing.List):  # noqa: UP006
        return []
    if origin in (dict, typing.Dict):  # noqa: UP006
        return {}
    if isinstance(tp, type) and issubclass(tp, StripeObject):
        return default_of(tp)
    return {bool: False, int: 0, float: 0, str: ""}.get(tp)
