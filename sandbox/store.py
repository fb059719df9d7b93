"""Create, fetch, update and list sandbox objects; Stripe list objects; ``expand``.

Objects live in ``SandboxObject`` with their API JSON in ``data``. Fields that Stripe can expand
(``latest_charge``, ``transfer`` ...) are stored as ids and expanded at response time.
Every function here runs inside the caller's transaction (the dispatcher wraps each request in
``transaction.atomic()``); ``get(..., for_update=True)`` locks the row.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from django.db.models import Q, QuerySet

from sandbox import clock, shapes
from sandbox.errors import StripeError, invalid_request, resource_missing
from sandbox.ids import new_id
from sandbox.models import SandboxObject

JSON = dict[str, Any]


def create(
    prefix: str,
    object_type: str,
    fields: Mapping[str, Any],
    *,
    account: str = "",
    private: Mapping[str, Any] | None = None,
    object_id: str | None = None,
    created: int | None = None,
) -> JSON:
    """Store a new object and return its JSON: ``{"id": <prefix>_…, "object": object_type,
    "created": <sandbox now>, **fields}``. A ``created`` in ``fields`` wins. Passing
    ``created=<unix>`` sets only the row's sort time and adds no ``created`` field (for objects
    Stripe shows without one). ``private`` is hidden state never returned by the API.
    """
    oid = object_id or new_id(prefix)
    timestamp = clock.now() if created is None else created
    data: JSON = {"id": oid, "object": object_type}
    data.update(copy.deepcopy(dict(fields)))
    if created is None and "created" not in data:
        data["created"] = timestamp
    shapes.complete(data)
    SandboxObject.objects.create(
        id=oid,
        object=object_type,
        account=account,
        created=int(data.get("created") or timestamp),
        data=data,
        private=dict(private or {}),
    )
    return data


def get_row(
    object_id: str,
    *,
    object_type: str | None = None,
    account: str | None = None,
    for_update: bool = False,
    include_deleted: bool = False,
    name: str | None = None,
    param: str = "id",
) -> SandboxObject:
    """The row of ``object_id`` or a 404 ``resource_missing`` shaped as Stripe's
    ("No such <name>: 'id'"). ``account`` scopes it ("" = platform, None = any owner)."""
    qs = SandboxObject.objects.all()
    if for_update:
        qs = qs.select_for_update()
    try:
        row = qs.get(pk=object_id)
    except SandboxObject.DoesNotExist:
        raise resource_missing(name or object_type or "object", object_id, param) from None
    if (
        (object_type is not None and row.object != object_type)
        or (account is not None and row.account != account)
        or (row.deleted and not include_deleted)
    ):
        raise resource_missing(name or object_type or "object", object_id, param)
    return row


def get(object_id: str, **kwargs: Any) -> JSON:
    """The JSON of ``object_id`` (see ``get_row`` for the keyword arguments)."""
    return copy.deepcopy(get_row(object_id, **kwargs).data)


def save(row: SandboxObject) -> JSON:
    shapes.complete(row.data)
    row.save(update_fields=["data", "private", "deleted", "updated_at"])
    return copy.deepcopy(row.data)


def update(
    object_id: str,
    changes: Mapping[str, Any],
    *,
    object_type: str | None = None,
    account: str | None = None,
    private: Mapping[str, Any] | None = None,
) -> tuple[JSON, JSON]:
    """Apply top-level ``changes`` (dicts are replaced, except ``metadata`` which merges as on
    Stripe: a key set to "" is removed, ``metadata=""`` clears all). Returns
    ``(new_json, previous_attributes)`` where previous_attributes holds the old values of the
    fields that changed (what ``emit(..., previous_attributes=)`` wants)."""
    row = get_row(object_id, object_type=object_type, account=account, for_update=True)
    previous: JSON = {}
    for key, value in changes.items():
        old = row.data.get(key)
        new = merge_metadata(old, value) if key == "metadata" else copy.deepcopy(value)
        if new != old:
            previous[key] = copy.deepcopy(old)
            row.data[key] = new
    if private:
        row.private.update(private)
    return save(row), previous


def merge_metadata(old: Any, value: Any) -> dict[str, str]:
    """Stripe's metadata update rule."""
    if value in ("", None):
        return {}
    merged = dict(old or {})
    for key, item in dict(value).items():
        if item == "":
            merged.pop(key, None)
        else:
            merged[key] = item
    return merged


def diff(old: Mapping[str, Any], new: Mapping[str, Any]) -> JSON:
    """``previous_attributes`` between two versions of an object (top-level keys, and one level
    down for nested hashes, as Stripe reports them)."""
    previous: JSON = {}
    for key in set(old) | set(new):
        if old.get(key) == new.get(key):
            continue
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            previous[key] = {k: a.get(k) for k in set(a) | set(b) if a.get(k) != b.get(k)}
        else:
            previous[key] = copy.deepcopy(a)
    return previous


def mark_deleted(object_id: str, *, object_type: str, account: str | None = None) -> JSON:
    """Delete through the API: returns Stripe's ``{"id", "object", "deleted": true}``."""
    row = get_row(object_id, object_type=object_type, account=account, for_update=True)
    row.deleted = True
    row.save(update_fields=["deleted", "updated_at"])
    return {"id": row.id, "object": row.object, "deleted": True}


def queryset(object_type: str, *, account: str | None = "") -> QuerySet[SandboxObject]:
    qs = SandboxObject.objects.filter(object=object_type, deleted=False)
    if account is not None:
        qs = qs.filter(account=account)
    return qs


def apply_created_filter(qs: QuerySet[SandboxObject], created: Any) -> QuerySet[SandboxObject]:
    """``created=<int>`` or ``created[gt|gte|lt|lte]=<int>`` as Stripe's list endpoints take."""
    if created is None:
        return qs
    if isinstance(created, int):
        return qs.filter(created=created)
    if isinstance(created, Mapping):
        for op in ("gt", "gte", "lt", "lte"):
            if op in created:
                qs = qs.filter(**{f"created__{op}": int(created[op])})
        return qs
    raise invalid_request("Invalid created filter", param="created")


def list_response(
    qs: QuerySet[SandboxObject],
    params: Mapping[str, Any],
    *,
    url: str,
    transform: Callable[[JSON], JSON] | None = None,
) -> JSON:
    """A Stripe list object, newest first, with ``limit`` (1..100, default 10),
    ``starting_after`` / ``ending_before`` cursors and the ``created`` filter applied."""
    limit = int(params.get("limit") or 10)
    if not 1 <= limit <= 100:
        raise StripeError(
            "Invalid limit: must be between 1 and 100",
            param="limit",
            code="parameter_invalid_integer",
        )
    qs = apply_created_filter(qs, params.get("created"))
    starting_after = params.get("starting_after")
    ending_before = params.get("ending_before")
    if starting_after:
        cursor = _cursor(qs, starting_after, "starting_after")
        qs = qs.filter(after_cursor(cursor.created, cursor.seq, older=True))
        rows = list(qs.order_by("-created", "-seq")[: limit + 1])
    elif ending_before:
        cursor = _cursor(qs, ending_before, "ending_before")
        qs = qs.filter(after_cursor(cursor.created, cursor.seq, older=False))
        rows = list(qs.order_by("created", "seq")[: limit + 1])
        has_more = len(rows) > limit
        rows = list(reversed(rows[:limit]))
        return _list(rows, has_more, url, transform)
    else:
        rows = list(qs.order_by("-created", "-seq")[: limit + 1])
    has_more = len(rows) > limit
    return _list(rows[:limit], has_more, url, transform)


def after_cursor(created: int, seq: int, *, older: bool) -> Q:
    """Rows strictly past the cursor ``(created, seq)`` in list order: older ones for
    ``starting_after``, newer ones for ``ending_before``.

    Written as a range on ``created`` plus the tie-break, not as ``created < c OR (created = c
    AND seq < s)``: with the OR form SQLite and PostgreSQL walk the ``(account, created, seq)``
    index from its end, so each page cost grew with the rows already listed (a scan of N/2 rows
    per page in a full pass); with the range every page is an index seek.
    """
    if older:
        return Q(created__lte=created) & (Q(created__lt=created) | Q(seq__lt=seq))
    return Q(created__gte=created) & (Q(created__gt=created) | Q(seq__gt=seq))


def _cursor(qs: QuerySet[SandboxObject], object_id: str, param: str) -> SandboxObject:
    row = SandboxObject.objects.filter(pk=object_id).first()
    if row is None:
        raise resource_missing("object", object_id, param)
    return row


def _list(
    rows: Iterable[SandboxObject],
    has_more: bool,
    url: str,
    transform: Callable[[JSON], JSON] | None,
) -> JSON:
    data = [copy.deepcopy(row.data) for row in rows]
    if transform is not None:
        data = [transform(item) for item in data]
    return {"object": "list", "data": data, "has_more": has_more, "url": url}


def billing_details(*, email: str | None = None, name: str | None = None) -> JSON:
    """Stripe's ``billing_details`` (of a payment method or a charge): an empty address."""
    return {
        "address": {
            "city": None,
            "country": None,
            "line1": None,
            "line2": None,
            "postal_code": None,
            "state": None,
        },
        "email": email,
        "name": name,
        "phone": None,
        "tax_id": None,
    }


def list_of(items: list[JSON], *, url: str, has_more: bool = False) -> JSON:
    """A list object around ready-made items (for sub-lists embedded in objects)."""
    return {"object": "list", "data": items, "has_more": has_more, "url": url}


#: Fields Stripe returns only when expanded (``includable``), computed from the object:
#: object type -> field -> ``function(obj) -> value``. Registered by resource modules.
INCLUDABLE: dict[str, dict[str, Callable[[JSON], Any]]] = {}


def register_includable(object_type: str, field: str, render: Callable[[JSON], Any]) -> None:
    INCLUDABLE.setdefault(object_type, {})[field] = render


def expand(obj: Any, paths: Iterable[str], *, account: str | None = None) -> Any:
    """Replace id strings at the dotted ``paths`` by the objects they name (``data.`` walks a
    list's items; ``a.b`` expands ``a`` first, then ``b`` inside it). Unknown ids stay strings;
    a path through a non-object is a 400 like Stripe's."""
    for path in paths:
        obj = _expand_path(obj, path.split("."), account, path)
    return obj


def _expand_path(obj: Any, parts: list[str], account: str | None, full: str) -> Any:
    if not parts:
        return obj
    if isinstance(obj, list):
        return [_expand_path(item, parts, account, full) for item in obj]
    if not isinstance(obj, dict):
        return obj
    head, rest = parts[0], parts[1:]
    includable = INCLUDABLE.get(str(obj.get("object")), {})
    if head not in obj and head in includable:
        obj[head] = _expand_path(includable[head](obj), rest, account, full)
        return obj
    if head not in obj:
        raise invalid_request(f"This property cannot be expanded ({full}).", param="expand")
    value = obj[head]
    if isinstance(value, str):
        row = SandboxObject.objects.filter(pk=value).first()
        if row is not None:
            value = copy.deepcopy(row.data)
    obj[head] = _expand_path(value, rest, account, full)
    return obj
