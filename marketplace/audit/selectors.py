"""Reads of the audit log: staff only (for anyone else the selector answers None and the view
404)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone

from marketplace.audit.models import AuditEntry


def audit_entries(
    *,
    user: Any,
    actor: str = "",
    action: str = "",
    date_from: date | None = None,
    date_to: date | None = None,
    obj: str = "",
) -> QuerySet[AuditEntry] | None:
    """Audit entries, newest first, filtered by actor (email or command, part of it), action,
    days (inclusive, in the site's time zone) and object (an id exactly, or part of its type or
    text). None unless ``user`` is staff."""
    if not (user.is_authenticated and user.is_staff):
        return None
    qs = AuditEntry.objects.all()
    if actor:
        qs = qs.filter(actor__icontains=actor)
    if action:
        qs = qs.filter(action=action)
    tz = timezone.get_current_timezone()
    if date_from:
        qs = qs.filter(occurred_at__gte=datetime.combine(date_from, time.min, tzinfo=tz))
    if date_to:
        end = datetime.combine(date_to + timedelta(days=1), time.min, tzinfo=tz)
        qs = qs.filter(occurred_at__lt=end)
    if obj:
        qs = qs.filter(
            Q(object_id=obj) | Q(object_type__icontains=obj) | Q(object_repr__icontains=obj)
        )
    return qs
