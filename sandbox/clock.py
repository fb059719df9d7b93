"""The sandbox clock: real time plus a stored offset, shared by every process.

``now()`` is what every sandbox timestamp uses (``created``, ``expires_at``, delivery retries ...).
``advance(seconds)`` moves it forward and runs whatever became due: built-in jobs (expired account
links, webhook delivery retries) and the jobs other modules registered with ``register_job``
(pending -> available balances, automatic payouts ...).

A job is ``callable() -> None`` that does ALL work due at ``now()`` (the clock may jump days at
once), idempotently; it runs in its own transaction, and an exception in one job is logged and
does not stop the others.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from contextvars import ContextVar
from datetime import UTC, datetime

from django.db import transaction

logger = logging.getLogger(__name__)

Job = Callable[[], None]
_jobs: list[tuple[str, Job]] = []


#: The offset read once for a run of the clock jobs (``run_due``): a renewal of thousands of
#: subscriptions asks ``now()`` tens of thousands of times; nothing moves the clock meanwhile.
_pinned_offset: ContextVar[int | None] = ContextVar("sandbox_pinned_offset", default=None)


def offset() -> int:
    pinned = _pinned_offset.get()
    if pinned is not None:
        return pinned
    from sandbox.models import Clock

    row = Clock.objects.filter(pk=1).values_list("offset_seconds", flat=True).first()
    return int(row or 0)


def now() -> int:
    """Unix seconds on the sandbox clock (fixed for the duration of one API request)."""
    from sandbox import context

    request = context.current.get()
    if request is not None and request.now is not None:
        return request.now
    return int(time.time()) + offset()


def now_datetime() -> datetime:
    return datetime.fromtimestamp(now(), tz=UTC)


def register_job(job: Job, *, name: str | None = None) -> Job:
    """Run ``job`` whenever due work is processed (clock advance, control page, tick).

    Usable as a decorator. Registering the same name twice replaces the earlier job, so module
    reloads do not duplicate it. Registered jobs run in order, then due webhook deliveries.
    """
    job_name = name or f"{job.__module__}.{getattr(job, '__qualname__', repr(job))}"
    for index, (existing, _) in enumerate(_jobs):
        if existing == job_name:
            _jobs[index] = (job_name, job)
            return job
    _jobs.append((job_name, job))
    return job


def registered_jobs() -> list[str]:
    return [name for name, _ in _jobs]


def set_offset(seconds: int) -> None:
    from sandbox.models import Clock

    with transaction.atomic():
        clock, _ = Clock.objects.select_for_update().get_or_create(pk=1)
        clock.offset_seconds = int(seconds)
        clock.save(update_fields=["offset_seconds", "updated_at"])


def advance(seconds: int, *, run_jobs: bool = True) -> int:
    """Move the sandbox clock forward by ``seconds`` (>= 0) and run due work; returns ``now()``."""
    if seconds < 0:
        raise ValueError("the sandbox clock only moves forward")
    from sandbox.models import Clock

    with transaction.atomic():
        clock, _ = Clock.objects.select_for_update().get_or_create(pk=1)
        clock.offset_seconds += int(seconds)
        clock.save(update_fields=["offset_seconds", "updated_at"])
    if run_jobs:
        run_due()
    return now()


def run_due() -> None:
    """Run the built-in jobs and every registered job once (each in its own transaction)."""
    from sandbox import delivery, events

    token = _pinned_offset.set(offset())
    try:
        with events.pinned_endpoints():
            for name, job in list(_jobs):
                try:
                    with transaction.atomic():
                        job()
                except Exception:
                    logger.exception("sandbox clock job %s failed", name)
    finally:
        _pinned_offset.reset(token)
    _housekeeping()
    # Deliveries last, so the events the jobs just emitted go out in the same pass; each
    # delivery attempt commits on its own.
    delivery.deliver_due()


REQUEST_LOG_KEEP = 2000


def _housekeeping() -> None:
    """Forget idempotency keys older than 24 hours (as Stripe does) and old request logs."""
    from sandbox.models import IdempotencyRecord, RequestLog

    try:
        IdempotencyRecord.objects.filter(created__lt=now() - 24 * 3600).delete()
        newest = RequestLog.objects.order_by("-id").values_list("id", flat=True).first()
        if newest is not None and newest > REQUEST_LOG_KEEP:
            RequestLog.objects.filter(id__lte=newest - REQUEST_LOG_KEEP).delete()
    except Exception:
        logger.exception("sandbox housekeeping failed")
