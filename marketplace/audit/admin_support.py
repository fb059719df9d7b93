"""Every edit made in the Django admin goes to the audit log (before and after).

``AuditedAdminMixin`` is mixed into every ModelAdmin by the staff admin site when it is
registered (marketplace/admin_site.py), so an app's admin needs nothing to be audited.
"""

from __future__ import annotations

from typing import Any

from django.db import models, transaction
from django.db.models import QuerySet
from django.http import HttpRequest

from marketplace.audit.models import AuditEntry
from marketplace.audit.services import audit_record, snapshot


class AuditedAdminMixin:
    """Wraps ModelAdmin's save and delete hooks with an audit entry in the same transaction."""

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        before: dict[str, Any] | None = None
        if change and obj.pk is not None:
            old = type(obj)._default_manager.filter(pk=obj.pk).first()
            before = snapshot(old) if old is not None else None
        with transaction.atomic():
            super().save_model(request, obj, form, change)  # type: ignore[misc]
            after = snapshot(obj)
            if before is not None:
                changed = [k for k in after if before.get(k) != after[k]]
                before = {k: before.get(k) for k in changed}
                after = {k: after[k] for k in changed}
            audit_record(
                action=AuditEntry.Action.ADMIN_CHANGE if change else AuditEntry.Action.ADMIN_ADD,
                target=obj,
                summary=f"{'Changed' if change else 'Added'} {obj._meta.verbose_name} in the admin",
                before=before,
                after=after,
            )

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        with transaction.atomic():
            self._audit_delete(obj)
            super().delete_model(request, obj)  # type: ignore[misc]

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        with transaction.atomic():
            for obj in queryset:
                self._audit_delete(obj)
            super().delete_queryset(request, queryset)  # type: ignore[misc]

    def _audit_delete(self, obj: models.Model) -> None:
        audit_record(
            action=AuditEntry.Action.ADMIN_DELETE,
            target=obj,
            summary=f"Deleted {obj._meta.verbose_name} in the admin",
            before=snapshot(obj),
        )
