"""Replay: re-queue events for a fresh run of their handler (admin action, management command)."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone

from marketplace.audit.services import Action, audit_record
from marketplace.events.models import StripeEvent
from marketplace.events.services._common import Status
from marketplace.events.services.wakeup import wake_workers


def events_replay(*, event_ids: Iterable[int]) -> int:
    """Re-queue events (any status but processing) for a fresh run of their handler.

    Attempts start again from zero; the last error stays visible until the next run. Handlers are
    idempotent, so replaying a succeeded event is safe. Wakes the workers after commit.
    Each event re-queued gets an audit entry (status and attempts before and after).
    Returns how many events were re-queued.
    """
    now = timezone.now()
    with transaction.atomic():
        chosen = list(
            StripeEvent.objects.select_for_update()
            .filter(id__in=list(event_ids))
            .exclude(status=Status.PROCESSING)
            .order_by("id")
            .values("id", "stripe_id", "type", "status", "attempts")
        )
        count = StripeEvent.objects.filter(id__in=[e["id"] for e in chosen]).update(
            status=Status.RECEIVED,
            attempts=0,
            next_attempt_at=None,
            ignored_reason="",
            processed_at=None,
            updated_at=now,
        )
        for event in chosen:
            audit_record(
                action=Action.EVENT_REPLAY,
                object_type="events.stripeevent",
                object_id=event["stripe_id"],
                object_repr=f"{event['type']} {event['stripe_id']}",
                before={"status": event["status"], "attempts": event["attempts"]},
                after={"status": Status.RECEIVED, "attempts": 0},
            )
    if count:
        wake_workers()
    return count


def events_replay_failed() -> int:
    """Re-queue every failed and dead event now (``stripe_events replay --failed``)."""
    ids = StripeEvent.objects.filter(status__in=[Status.FAILED, Status.DEAD]).values_list(
        "id", flat=True
    )
    return events_replay(event_ids=list(ids))
