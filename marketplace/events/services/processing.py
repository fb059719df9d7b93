"""Processing: claim due events, run their handlers with the status change in one transaction,
retry failures with backoff, keep dead letters, release claims of lost workers.
"""

from __future__ import annotations

import logging
import time
import traceback
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from marketplace.events.models import StripeEvent
from marketplace.events.registry import after_batch_hooks, group_of, handler_for
from marketplace.events.services._common import PENDING, Status, _setting

logger = logging.getLogger(__name__)


def claim_lease() -> timedelta:
    """How long a claimed event stays ``processing`` before it is considered lost.

    Longer than the hard task time limit, so a worker still alive never loses its claim.
    """
    return timedelta(seconds=int(settings.CELERY_TASK_TIME_LIMIT) + 60)


def retry_delay(*, attempts: int) -> timedelta:
    """Exponential backoff after the ``attempts``-th failure: base, 2x, 4x ... capped at 6 h."""
    base = int(_setting("EVENTS_RETRY_BASE_SECONDS", 60))
    return timedelta(seconds=min(base * 2 ** max(attempts - 1, 0), 6 * 3600))


def max_attempts() -> int:
    return int(_setting("EVENTS_MAX_ATTEMPTS", 8))


def _due_q(now: datetime) -> Q:
    return Q(status__in=PENDING) & (Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))


def events_claim(*, batch_size: int = 100) -> list[StripeEvent]:
    """Claim up to ``batch_size`` due events for this worker and return them.

    ``SELECT ... FOR UPDATE SKIP LOCKED`` on PostgreSQL, so concurrent workers never claim the same
    rows; on SQLite the IMMEDIATE transaction serializes claims. Claiming sets status processing,
    counts the attempt and sets ``next_attempt_at`` to the end of the claim's lease (a claim left
    by a killed worker is released by ``events_release_expired``). One statement per batch on PostgreSQL
    (``_claim_postgresql``), three on SQLite.
    """
    now = timezone.now()
    if connection.vendor == "postgresql":
        return _claim_postgresql(now=now, batch_size=batch_size)
    with transaction.atomic():
        ids = list(
            StripeEvent.objects.filter(_due_q(now))
            .order_by("id")
            .select_for_update(skip_locked=True)
            .values_list("id", flat=True)[:batch_size]
        )
        if not ids:
            return []
        StripeEvent.objects.filter(id__in=ids).update(
            status=Status.PROCESSING,
            attempts=F("attempts") + 1,
            next_attempt_at=now + claim_lease(),
            updated_at=now,
        )
    return list(StripeEvent.objects.filter(id__in=ids).order_by("id"))


def _claim_postgresql(*, now: datetime, batch_size: int) -> list[StripeEvent]:
    """The claim in ONE statement (one round trip, its own implicit transaction): an UPDATE of
    the due rows picked ``FOR UPDATE SKIP LOCKED`` (the pending partial index serves the pick),
    ``RETURNING`` them as updated."""
    table = str(StripeEvent._meta.db_table)
    quote = connection.ops.quote_name
    columns = ", ".join(quote(str(f.column)) for f in StripeEvent._meta.concrete_fields)
    pending = ", ".join(["%s"] * len(PENDING))
    sql = (
        f"UPDATE {quote(table)} SET status = %s, attempts = attempts + 1, "  # noqa: S608
        "next_attempt_at = %s, updated_at = %s "
        f"WHERE id IN (SELECT id FROM {quote(table)} WHERE status IN ({pending}) "
        "AND (next_attempt_at IS NULL OR next_attempt_at <= %s) "
        "ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED) "
        f"RETURNING {columns}"
    )  # only the model's own quoted identifiers are interpolated; values are parameters
    params = [Status.PROCESSING, now + claim_lease(), now, *PENDING, now, batch_size]
    claimed = list(StripeEvent.objects.raw(sql, params))
    claimed.sort(key=lambda event: event.id)
    return claimed


def event_process(*, event: StripeEvent) -> str:
    """Run the handler of a claimed event; return its new status.

    The handler and the status change to succeeded commit in ONE transaction: if the handler
    raises (or the process dies), none of its writes stay. Unknown types are marked ignored.
    A failure keeps the error and traceback and schedules a retry with backoff; after
    ``EVENTS_MAX_ATTEMPTS`` attempts the event becomes a dead letter. If the claim was lost (lease
    expired and another worker took the event), everything is rolled back and nothing changes.
    """
    handler = handler_for(event.type)
    claimed = StripeEvent.objects.filter(
        id=event.id, status=Status.PROCESSING, attempts=event.attempts
    )
    now = timezone.now()
    if handler is None:
        claimed.update(
            status=Status.IGNORED,
            ignored_reason="no handler for this event type",
            next_attempt_at=None,
            processed_at=now,
            updated_at=now,
        )
        return Status.IGNORED
    try:
        with transaction.atomic():
            handler(event)
            done = claimed.update(
                status=Status.SUCCEEDED,
                last_error="",
                last_traceback="",
                next_attempt_at=None,
                processed_at=timezone.now(),
                updated_at=timezone.now(),
            )
            if not done:
                raise _ClaimLost
    except _ClaimLost:
        logger.warning("event %s: claim lost to another worker, rolled back", event.stripe_id)
        return Status.PROCESSING
    except Exception as exc:
        return _event_fail(event=event, exc=exc)
    return Status.SUCCEEDED


class _ClaimLost(Exception):
    pass


def _event_fail(*, event: StripeEvent, exc: BaseException) -> str:
    now = timezone.now()
    summary = (
        f"{type(exc).__name__}: {exc}".splitlines()[0][:1000] if str(exc) else type(exc).__name__
    )
    tb = "".join(traceback.format_exception(exc))
    dead = event.attempts >= max_attempts()
    status = Status.DEAD if dead else Status.FAILED
    StripeEvent.objects.filter(
        id=event.id, status=Status.PROCESSING, attempts=event.attempts
    ).update(
        status=status,
        last_error=summary,
        last_traceback=tb,
        next_attempt_at=None if dead else now + retry_delay(attempts=event.attempts),
        updated_at=now,
    )
    log = logger.error if dead else logger.warning
    log(
        "event %s (%s) failed, attempt %d/%d%s: %s",
        event.stripe_id,
        event.type,
        event.attempts,
        max_attempts(),
        ", now a dead letter" if dead else "",
        summary,
    )
    return status


# Events of a claimed batch share one transaction for at most this long (one commit, so one
# disk flush, per transaction instead of per event).
BATCH_TRANSACTION_SECONDS = 1.0


def events_process_batch(*, events: list[StripeEvent]) -> None:
    """Process claimed events, grouping them into transactions of at most ~1 s.

    Events of the batch that a group handler takes together (``registry.handles_together``:
    same object, e.g. the payout.* of one payout) form one unit, run once where its first
    event stands; every other event is a unit of its own. The status changes of a transaction
    (succeeded, ignored) are written by one UPDATE in it: a handler's writes and its events'
    statuses commit together or not at all.

    Handlers run first without a savepoint of their own (two round trips saved per unit:
    failures are rare). If one raises, the whole transaction is rolled back and redone with each
    unit in its own savepoint (``safe``), so a raising handler rolls back alone and its events
    are marked failed. If the worker dies, the transaction rolls back entirely and its events,
    still claimed, are retried when their lease ends. If a claim turns out lost (lease ended,
    another worker re-claimed), the transaction is rolled back and redone event by event with
    ``event_process``.
    """
    units = _units_of(events)
    i = 0
    while i < len(units):
        start = i
        try:
            i = _events_process_group(units=units, start=start, safe=False)
        except _ClaimLost:
            i = _events_redo_one_by_one(units=units, start=start)
        except Exception:
            logger.info("a handler raised; redoing its group with a savepoint per handler")
            try:
                i = _events_process_group(units=units, start=start, safe=True)
            except _ClaimLost:
                i = _events_redo_one_by_one(units=units, start=start)


def _units_of(events: list[StripeEvent]) -> list[list[StripeEvent]]:
    """The batch as units of work, in the order of their first event: events sharing a group
    handler and key together, the others alone."""
    units: list[list[StripeEvent]] = []
    grouped: dict[tuple[Any, str], list[StripeEvent]] = {}
    for event in events:
        group = group_of(event)
        if group is None:
            units.append([event])
        elif group in grouped:
            grouped[group].append(event)
        else:
            grouped[group] = [event]
            units.append(grouped[group])
    return units


def _events_process_group(*, units: list[list[StripeEvent]], start: int, safe: bool) -> int:
    """One transaction, from ``units[start]`` for at most ~1 s; returns where it stopped.
    ``safe``: each unit's handler in a savepoint (a failure is recorded, not raised)."""
    started = time.monotonic()
    i = start
    with transaction.atomic():
        done: dict[str, list[StripeEvent]] = {Status.SUCCEEDED: [], Status.IGNORED: []}
        while i < len(units):
            first, *others = units[i]
            i += 1
            outcome = _event_run_handler(event=first, savepoint=safe, together=others)
            if outcome in done:
                done[outcome] += units[i - 1]
            if time.monotonic() - started > BATCH_TRANSACTION_SECONDS:
                break
        _events_mark_done(done)
    return i


def _events_redo_one_by_one(*, units: list[list[StripeEvent]], start: int) -> int:
    """After a lost claim: the events one by one, each with its own claim check."""
    logger.warning("a claim of this batch was lost; redoing its events one by one")
    # The transaction's extent is unknown after a rollback: redo up to the end of the batch.
    for unit in units[start:]:
        for event in unit:
            event_process(event=event)
    return len(units)


def _event_run_handler(
    *, event: StripeEvent, savepoint: bool = True, together: list[StripeEvent] | None = None
) -> str:
    """Run the handler of ``event``, or with ``together`` (events of the same group) the group
    handler on all of them, in a savepoint unless ``savepoint`` is False (then it raises, and
    the caller rolls the whole transaction back); on failure in a savepoint, record it on each
    event. Returns the outcome, the same for all."""
    handler = handler_for(event.type)
    if handler is None:
        return Status.IGNORED
    events = [event, *(together or [])]
    if len(events) > 1:
        group = group_of(event)
        assert group is not None
        group_handler = group[0]

        def run() -> None:
            group_handler(events)
    else:

        def run() -> None:
            handler(event)

    if not savepoint:
        run()
        return Status.SUCCEEDED
    try:
        with transaction.atomic():
            run()
    except Exception as exc:
        outcomes = [_event_fail(event=each, exc=exc) for each in events]
        return outcomes[0]
    return Status.SUCCEEDED


def _events_mark_done(done: dict[str, list[StripeEvent]]) -> None:
    """One UPDATE per outcome (per claim), guarded by the claim: its lease end is its token."""
    now = timezone.now()
    for status, events in done.items():
        by_claim: dict[Any, list[int]] = {}
        for event in events:
            by_claim.setdefault(event.next_attempt_at, []).append(event.id)
        for lease_end, ids in by_claim.items():
            changes: dict[str, Any] = {
                "status": status,
                "next_attempt_at": None,
                "processed_at": now,
                "updated_at": now,
            }
            if status == Status.SUCCEEDED:
                changes.update(last_error="", last_traceback="")
            else:
                changes["ignored_reason"] = "no handler for this event type"
            updated = StripeEvent.objects.filter(
                id__in=ids, status=Status.PROCESSING, next_attempt_at=lease_end
            ).update(**changes)
            if updated != len(ids):
                raise _ClaimLost


@dataclass(frozen=True)
class DrainResult:
    processed: int
    more: bool  # stopped on the time budget with work left


def events_drain(
    *, batch_size: int = 100, time_budget: float | None = None, linger: float = 0.0
) -> DrainResult:
    """Process due events batch after batch until none is left or ``time_budget`` s have passed.

    ``linger``: once nothing is left, keep looking (every 50 ms) until ``linger`` s after the
    start, for events committed by a process that skipped its wake-up because it had just sent one
    (see ``LOCAL_WAKE_WINDOW_SECONDS``).

    After each non-empty batch, the registered after-batch hooks run (``registry.after_batch``:
    work the batch's handlers left to do for many events at once), outside its transaction.
    """
    started = time.monotonic()
    processed = 0
    while True:
        batch = events_claim(batch_size=batch_size)
        events_process_batch(events=batch)
        processed += len(batch)
        if batch:
            _run_after_batch_hooks()
        if time_budget is not None and time.monotonic() - started > time_budget:
            return DrainResult(processed=processed, more=len(batch) >= batch_size)
        if len(batch) < batch_size:
            if time.monotonic() - started >= linger:
                return DrainResult(processed=processed, more=False)
            time.sleep(0.05)


def _run_after_batch_hooks() -> None:
    """Each after-batch hook; one that raises is logged, and the drain goes on."""
    for hook in after_batch_hooks():
        try:
            hook()
        except Exception:
            logger.exception("after-batch hook %s raised", getattr(hook, "__qualname__", hook))


def events_release_expired() -> int:
    """Release claims whose lease ended (their worker was killed): they become failed, to retry.

    An event whose last allowed attempt was lost this way becomes a dead letter.
    """
    now = timezone.now()
    expired = StripeEvent.objects.filter(status=Status.PROCESSING, next_attempt_at__lte=now)
    message = "claim expired: the worker processing it was lost"
    dead = expired.filter(attempts__gte=max_attempts()).update(
        status=Status.DEAD, last_error=message, next_attempt_at=None, updated_at=now
    )
    retried = expired.update(
        status=Status.FAILED, last_error=message, next_attempt_at=now, updated_at=now
    )
    if dead or retried:
        logger.warning("released %d expired event claims (%d dead letters)", dead + retried, dead)
    return dead + retried


def events_pending_count() -> int:
    """How many events are due for processing now."""
    return StripeEvent.objects.filter(_due_q(timezone.now())).count()
