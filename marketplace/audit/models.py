"""The audit log: one append-only row per staff action on money (who, when, what, before and
after, from which address). Rows are written once by ``audit_record`` and never changed: the
model layer refuses update and delete, and on PostgreSQL a trigger refuses them too."""

from __future__ import annotations

from typing import Any, ClassVar

from django.db import models
from django.utils import timezone


class AuditLogImmutable(RuntimeError):
    """An audit entry was about to be changed or deleted: they never are."""


class _AppendOnlyQuerySet(models.QuerySet[Any]):
    def update(self, **kwargs: Any) -> int:
        raise AuditLogImmutable("audit entries are never updated")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise AuditLogImmutable("audit entries are never deleted")


class AuditEntry(models.Model):
    class Action(models.TextChoices):
        REFUND = "refund", "Refund"
        FEE_RULE_CREATE = "fee_rule.create", "Fee rule set"
        FEE_RULE_RETIRE = "fee_rule.retire", "Fee rule retired"
        SELLER_SUSPEND = "seller.suspend", "Seller suspended"
        SELLER_REINSTATE = "seller.reinstate", "Seller reinstated"
        EVENT_REPLAY = "event.replay", "Events replayed"
        RECONCILIATION_RUN = "reconciliation.run", "Reconciliation run"
        ADMIN_ADD = "admin.add", "Admin: added"
        ADMIN_CHANGE = "admin.change", "Admin: changed"
        ADMIN_DELETE = "admin.delete", "Admin: deleted"
        REVIEW_HIDE = "review.hide", "Review hidden"
        PROBLEM_CLOSE = "problem.close", "Refund request declined by staff"

    class Via(models.TextChoices):
        WEB = "web", "Staff pages"
        ADMIN = "admin", "Django admin"
        COMMAND = "command", "manage.py"
        SYSTEM = "system", "System"

    occurred_at = models.DateTimeField(default=timezone.now, db_index=True)
    action = models.CharField(max_length=32, choices=Action.choices, db_index=True)
    # Who, as they were at the time: the user's id (no foreign key: the log outlives accounts
    # and is never rewritten by a cascade) and their email, or the command's name.
    actor_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    actor = models.CharField(max_length=254)
    via = models.CharField(max_length=16, choices=Via.choices)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    # What: "app_label.model" and the object's id (a Stripe id where the object has one).
    object_type = models.CharField(max_length=64, blank=True)
    object_id = models.CharField(max_length=255, blank=True)
    object_repr = models.CharField(max_length=255, blank=True)
    summary = models.CharField(max_length=500, blank=True)
    # Field values before and after the action (JSON; None when there was no "before").
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)

    objects: ClassVar[Any] = _AppendOnlyQuerySet.as_manager()

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [models.Index(fields=["object_type", "object_id"], name="audit_object_idx")]
        verbose_name = "audit entry"
        verbose_name_plural = "audit log"

    def __str__(self) -> str:
        return f"{self.occurred_at:%Y-%m-%d %H:%M:%S} {self.actor} {self.action} {self.object_repr}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AuditLogImmutable(f"audit entry {self.pk} is immutable")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise AuditLogImmutable("audit entries are never deleted")

    def changes(self) -> list[tuple[str, Any, Any]]:
        """(field, before, after) for every field named in either side, for the log page."""
        before = self.before if isinstance(self.before, dict) else {}
        after = self.after if isinstance(self.after, dict) else {}
        keys = list(dict.fromkeys([*before, *after]))
        return [(k, before.get(k), after.get(k)) for k in keys]
