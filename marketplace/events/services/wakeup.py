"""Wake-up: ask a worker to drain pending events, debounced through Redis."""

from __future__ import annotations

import logging
import time

from django.conf import settings
from django.db import transaction

from marketplace.events.services._common import _setting

logger = logging.getLogger(__name__)


WAKE_KEY = "events:drain-wake"
_last_wake_warning = {"at": 0.0}


def wake_workers() -> None:
    """Ask a worker to drain pending events, after the current transaction commits.

    With a broker, at most one ``drain_events`` message per ``EVENTS_WAKE_WINDOW_SECONDS``: a Redis
    ``SET NX EX`` (``cache.add``) debounces them, and the drain task deletes the key before it
    looks for work, so an event committed after that deletion always triggers a new wake-up.
    Without a broker (``CELERY_TASK_ALWAYS_EAGER``) the drain runs in-process after commit.
    If Redis is down this logs a warning (at most once a minute) and returns: the event is stored
    and the periodic ``drain_events`` in the beat schedule picks it up.
    """
    transaction.on_commit(_wake_now)


def drain_soon() -> None:
    """Enqueue one ``drain_events`` now (in-process when there is no broker), no debounce."""
    from marketplace.events import tasks

    if settings.CELERY_TASK_ALWAYS_EAGER:
        tasks.drain_events.apply()
    else:
        tasks.drain_events.apply_async()


# Within this many seconds of its last wake-up, a process does not even ask Redis: the drain
# that wake-up started keeps looking for new events for this long after it starts (``linger``),
# so events committed meanwhile are still seen. Saves one Redis round-trip per request.
LOCAL_WAKE_WINDOW_SECONDS = 0.25
_local_wake = {"at": -1e9}


def _wake_now() -> None:
    from marketplace.events import tasks

    if settings.CELERY_TASK_ALWAYS_EAGER:
        tasks.drain_events.apply()
        return
    now = time.monotonic()
    if now - _local_wake["at"] < LOCAL_WAKE_WINDOW_SECONDS:
        return
    _local_wake["at"] = now
    try:
        from django.core.cache import cache

        window = int(_setting("EVENTS_WAKE_WINDOW_SECONDS", 2))
        if cache.add(WAKE_KEY, 1, timeout=window):
            tasks.drain_events.apply_async(retry=False)
    except Exception as exc:
        now = time.monotonic()
        if now - _last_wake_warning["at"] > 60:
            _last_wake_warning["at"] = now
            logger.warning("could not wake the event workers (broker down?): %s", exc)


def wake_key_clear() -> None:
    """Called by the drain before it looks for work (see ``wake_workers``)."""
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return
    try:
        from django.core.cache import cache

        cache.delete(WAKE_KEY)
    except Exception:
        logger.warning("could not clear the wake-up key", exc_info=False)
