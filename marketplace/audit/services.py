"""The one writer of the audit log. Sellers, events and payouts call ``audit_record`` inside the
transaction of the action they audit, so an action and its entry commit or roll back together."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models

from marketplace.audit.models import AuditEntry
from marketplace.audit.origin import current_origin

Action = AuditEntry.Action


class _Encoder(DjangoJSONEncoder):
    """Dates, decimals, UUIDs as DjangoJSONEncoder writes them; anything else as its text."""

    def default(self, o: Any) -> Any:
        try:
            return super().default(o)
        except TypeError:
            return str(o)


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, cls=_Encoder))


# Fields whose values never go into the log (staff read it): password hashes, secrets, keys,
# and the authenticator data of allauth's MFA (TOTP secrets, recovery code seeds). A change to
# one still shows, as a different fingerprint of the hidden value.
SECRET_FIELDS = frozenset({"password", "secret", "key", "token", "api_key"})
SECRET_FIELDS_OF_MODEL = {"mfa.authenticator": frozenset({"data"})}


def _hidden(value: Any) -> str:
    digest = hashlib.sha256(json.dumps(value, cls=_Encoder, sort_keys=True).encode()).hexdigest()
    return f"(hidden {digest[:8]})"


def snapshot(obj: models.Model, fields: list[str] | None = None) -> dict[str, Any]:
    """The values of ``obj``'s concrete fields (or only ``fields``), JSON-ready; foreign keys
    as their ids; secrets (SECRET_FIELDS) hidden. What the log keeps as "before" and "after"."""
    secret = SECRET_FIELDS | SECRET_FIELDS_OF_MODEL.get(obj._meta.label_lower, frozenset())
    values: dict[str, Any] = {}
    for field in obj._meta.concrete_fields:
        if fields is not None and field.name not in fields:
            continue
        value = field.value_from_object(obj)
        if isinstance(value, models.fields.files.FieldFile):
            value = value.name or ""
        values[field.name] = _hidden(value) if field.name in secret else value
    return dict(_jsonable(values))


def _actor(actor: Any, origin_user: Any, label: str) -> tuple[int | None, str]:
    for candidate in (actor, origin_user):
        if candidate is not None and getattr(candidate, "is_authenticated", False):
            return candidate.pk, str(getattr(candidate, "email", "") or candidate)[:254]
    return None, (label or "anonymous")[:254]


def audit_record(
    *,
    action: str,
    target: models.Model | None = None,
    object_type: str = "",
    object_id: str = "",
    object_repr: str = "",
    summary: str = "",
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
    actor: Any = None,
) -> AuditEntry:
    """Append one entry to the audit log and return it.

    ``action`` is one of ``AuditEntry.Action``. The object is ``target`` (its model label, pk
    and text) or ``object_type``/``object_id``/``object_repr`` given explicitly (a Stripe id).
    ``before``/``after`` are field values (made JSON-safe). Who and from where come from the
    current origin (the request's user and address, or the management command), unless
    ``actor`` names the person. Never updates or deletes anything.
    """
    if action not in Action.values:
        raise ValueError(f"unknown audit action {action!r}")
    origin = current_origin()
    actor_id, actor_label = _actor(actor, origin.user, origin.label)
    if target is not None:
        object_type = object_type or target._meta.label_lower
        object_id = object_id or str(target.pk)
        object_repr = object_repr or str(target)
    return AuditEntry.objects.create(
        action=action,
        actor_id=actor_id,
        actor=actor_label,
        via=origin.via,
        ip_address=origin.ip_address,
        object_type=object_type[:64],
        object_id=str(object_id)[:255],
        object_repr=object_repr[:255],
        summary=summary[:500],
        before=_jsonable(dict(before)) if before is not None else None,
        after=_jsonable(dict(after)) if after is not None else None,
    )
