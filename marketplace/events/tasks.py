"""Celery tasks of the event pipeline. Thin: each calls one service. They take no arguments and
are idempotent, so a redelivered message (acks_late) or a beat tick is always safe.

The other apps' periodic jobs live in their own ``tasks.py``; all are scheduled in
``settings.CELERY_BEAT_SCHEDULE`` (docs/operations.md, "Workers and beat").
"""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from marketplace.events.services import processing, recovery, wakeup


@shared_task(name="events.drain_events", ignore_result=True)
def drain_events() -> int:
    """Process every due event (woken by intake; also on the beat schedule for stragglers)."""
    wakeup.wake_key_clear()
    budget = max(float(settings.CELERY_TASK_SOFT_TIME_LIMIT) / 2, 1.0)
    result = processing.events_drain(
        time_budget=budget,
        linger=0.0 if settings.CELERY_TASK_ALWAYS_EAGER else wakeup.LOCAL_WAKE_WINDOW_SECONDS,
    )
    if result.more:
        wakeup.drain_soon()
    return result.processed


@shared_task(name="events.retry_due_events", ignore_result=True)
def retry_due_events() -> int:
    """Release claims of lost workers, then wake a drain if events (e.g. retries) are due."""
    released = processing.events_release_expired()
    if processing.events_pending_count():
        wakeup.drain_soon()
    return released


@shared_task(name="events.recover_missed_events", ignore_result=True)
def recover_missed_events() -> int:
    """List the last ``EVENTS_RECOVER_WINDOW_MINUTES`` of events from Stripe; store the missed."""
    minutes = int(getattr(settings, "EVENTS_RECOVER_WINDOW_MINUTES", 60))
    result = recovery.events_recover(since=timezone.now() - timedelta(minutes=minutes))
    return result.stored
