"""Model building blocks every app may use (the core imports no app)."""

from __future__ import annotations

from typing import Any, ClassVar

from django.db import models


class ImmutableRowError(RuntimeError):
    """A ledger row or a fee-rule version was about to be changed or deleted: they never are."""


class ImmutableQuerySet(models.QuerySet[Any]):
    """Refuses bulk ``update()`` and ``delete()``: rows are written once and never changed."""

    def update(self, **kwargs: Any) -> int:
        raise ImmutableRowError(f"{self.model.__name__} rows are never updated")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise ImmutableRowError(f"{self.model.__name__} rows are never deleted")


class ImmutableModel(models.Model):
    """A model whose rows are inserted once: save() of an existing row and delete() raise."""

    objects: ClassVar[Any] = ImmutableQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise ImmutableRowError(
                f"{type(self).__name__} {self.pk} is immutable; record a correction instead"
            )
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise ImmutableRowError(f"{type(self).__name__} rows are never deleted")
