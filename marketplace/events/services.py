"""Writes of the event pipeline: intake, processing, retries, replay, recovery, sandbox endpoints.

The flow (DESIGN.md section 5):

1. ``event_receive`` (called by the webhook views) verifies ``Stripe-Signature`` on the raw body,
   stores the event with one ``INSERT ... ON CONFLICT DO NOTHING`` and wakes the workers (at most
   one broker message per short window). No Stripe call, no business logic.
2. ``events_drain`` (run by the ``drain_events`` task) claims pending events in batches
   (``FOR UPDATE SKIP LOCKED`` on PostgreSQL) and runs each one's handler in one transaction
   together with the status change to succeeded, so a crash leaves no half-applied effect.
3. Failures are kept (error and traceback), retried with exponential backoff, and after
   ``EVENTS_MAX_ATTEMPTS`` tries wait as dead letters until an admin replays them.
4. ``events_recover`` lists recent events from Stripe and stores those we never received.
"""

from __future__ import annotations

import functools
import json
import logging
import time
import traceback
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Field, Q
from django.urls import reverse
from django.utils import timezone

from marketplace import stripe_gateway
from marketplace.events import intake_checks
from marketplace.events.models import StripeEvent, WebhookEndpoint
from marketplace.events.registry import account_providers, handler_for

logger = logging.getLogger(__name__)

Status = StripeEvent.Status
Source = StripeEvent.Source

# A webhook body larger than this is refused before it is read (Stripe's events are a few KiB).
MAX_BODY_BYTES = 512 * 1024
PENDING = (Status.RECEIVED, Status.FAILED)


def _setting(name: str, default: Any) -> Any:
    return getattr(settings, name, default)


class IntakeError(Exception):
    """A webhook delivery refused with 400; ``str(exc)`` is the one-line reason."""


@dataclass(frozen=True)
class IntakeResult:
    stripe_id: str
    stored: bool  # False: a duplicate delivery, nothing new stored
    ignored_reason: str = ""


# --- Secrets ------------------------------------------------------------------------------------

_sandbox_cache: dict[str, Any] = {"secrets": None, "loaded_at": 0.0, "ensure_failed_at": 0.0}
SANDBOX_SECRETS_REFRESH_SECONDS = 10.0
SANDBOX_ENSURE_RETRY_SECONDS = 30.0


def endpoint_secrets(*, source: str, refresh: bool = False) -> list[str]:
    """Signing secrets accepted on the endpoint of ``source`` (platform or connect).

    Settings first (``STRIPE_WEBHOOK_SECRET`` / ``STRIPE_CONNECT_WEBHOOK_SECRET``, several during a
    rotation); in sandbox mode also the secrets of the endpoints registered with the sandbox,
    registered on first use and cached in-process (``refresh`` re-reads them, at most every 10 s).
    """
    configured = list(
        settings.STRIPE_CONNECT_WEBHOOK_SECRETS
        if source == Source.CONNECT
        else settings.STRIPE_WEBHOOK_SECRETS
    )
    if not settings.STRIPE_SANDBOX:
        return configured
    return configured + _sandbox_secrets(refresh=refresh).get(source, [])


def _sandbox_secrets(*, refresh: bool) -> dict[str, list[str]]:
    cache = _sandbox_cache
    now = time.monotonic()
    stale = refresh and now - cache["loaded_at"] > SANDBOX_SECRETS_REFRESH_SECONDS
    if cache["secrets"] is None or stale:
        secrets: dict[str, list[str]] = {}
        for kind, secret in WebhookEndpoint.objects.values_list("kind", "secret"):
            secrets.setdefault(kind, []).append(secret)
        site_urls = set(
            WebhookEndpoint.objects.filter(url__startswith=settings.SITE_URL).values_list(
                "kind", flat=True
            )
        )
        # Register lazily only the endpoints nobody configured a secret for (the sandbox's own
        # default endpoints come with secrets in settings).
        missing = {
            kind
            for kind in ENDPOINT_URL_NAMES
            if kind not in site_urls and not _configured_secrets(kind)
        }
        if missing and now - cache["ensure_failed_at"] > SANDBOX_ENSURE_RETRY_SECONDS:
            try:
                ensured = webhook_endpoints_ensure_sandbox(verify_remote=False, kinds=missing)
                for endpoint in ensured.values():
                    kind_secrets = secrets.setdefault(endpoint.kind, [])
                    if endpoint.secret not in kind_secrets:
                        kind_secrets.append(endpoint.secret)
            except stripe_gateway.GatewayError as exc:
                cache["ensure_failed_at"] = now
                logger.warning("could not register webhook endpoints with the sandbox: %s", exc)
        cache["secrets"] = secrets
        cache["loaded_at"] = now
    result: dict[str, list[str]] = cache["secrets"]
    return result


def sandbox_secrets_forget() -> None:
    """Drop the in-process cache of sandbox endpoint secrets (tests; after a sandbox reset)."""
    _sandbox_cache.update(secrets=None, loaded_at=0.0, ensure_failed_at=0.0)


def _configured_secrets(kind: str) -> list[str]:
    return list(
        settings.STRIPE_CONNECT_WEBHOOK_SECRETS
        if kind == WebhookEndpoint.Kind.CONNECT
        else settings.STRIPE_WEBHOOK_SECRETS
    )


ENDPOINT_URL_NAMES: dict[str, str] = {
    WebhookEndpoint.Kind.PLATFORM: "events:webhook",
    WebhookEndpoint.Kind.CONNECT: "events:webhook_connect",
}


def webhook_endpoints_ensure_sandbox(
    *,
    site_url: str | None = None,
    verify_remote: bool = True,
    kinds: Iterable[str] | None = None,
) -> dict[str, WebhookEndpoint]:
    """Register our webhook endpoints (platform, Connect) with the sandbox, once; return them.

    Idempotent: an endpoint already stored for ``site_url`` (default ``SITE_URL``) is kept, unless
    ``verify_remote`` finds the sandbox no longer knows it (its database was reset), in which case
    a new one is registered. An endpoint the sandbox already has at our URL while a secret is
    configured in settings for that kind (the sandbox's own default endpoints) is left as it is
    and not returned: registering a second one would deliver every event twice. Secrets of the
    endpoints we register are stored in ``WebhookEndpoint`` and picked up by intake.
    Side effects: sandbox calls ``webhook_endpoints.list/create``; rows written.
    Only meaningful in sandbox mode; with real Stripe keys it raises ``GatewayError``.
    """
    if not settings.STRIPE_SANDBOX:
        raise stripe_gateway.GatewayError(
            "webhook endpoints are registered automatically only with the sandbox; with real "
            "Stripe set STRIPE_WEBHOOK_SECRET and STRIPE_CONNECT_WEBHOOK_SECRET."
        )
    base = (site_url or settings.SITE_URL).rstrip("/")
    remote_ids: set[str] | None = None
    remote_urls: set[str] = set()
    if verify_remote:
        remote = stripe_gateway.webhook_endpoint_list()
        remote_ids = {endpoint.id for endpoint in remote}
        remote_urls = {endpoint.url for endpoint in remote}
    result: dict[str, WebhookEndpoint] = {}
    for kind in kinds if kinds is not None else ENDPOINT_URL_NAMES:
        url = base + reverse(ENDPOINT_URL_NAMES[kind])
        row = WebhookEndpoint.objects.filter(kind=kind, url=url).first()
        if row is not None and (remote_ids is None or row.stripe_id in remote_ids):
            result[kind] = row
            continue
        if row is None and url in remote_urls and _configured_secrets(kind):
            continue
        created = stripe_gateway.webhook_endpoint_create(
            url=url, connect=kind == WebhookEndpoint.Kind.CONNECT, generation=row.pk if row else 0
        )
        with transaction.atomic():
            if row is not None:
                row.delete()
            row, _ = WebhookEndpoint.objects.update_or_create(
                stripe_id=created.id,
                defaults={"kind": kind, "url": url, "secret": created.secret or ""},
            )
        result[kind] = row
    sandbox_secrets_forget()
    return result


# --- Intake -------------------------------------------------------------------------------------


def _expected_livemode() -> bool:
    return str(_setting("STRIPE_MODE", "sandbox")) == "live"


def event_receive(*, body: bytes, sig_header: str, source: str) -> IntakeResult:
    """Verify, parse and store one webhook delivery; wake the workers. The whole request's work.

    Contract: raises ``IntakeError`` (one-line reason, nothing stored) for a bad signature, a stale
    timestamp, a body that is not a JSON Stripe event or is too large. Otherwise the event is
    stored exactly once whatever the number of deliveries (``stored=False`` for a duplicate).
    A test-mode event on a live endpoint (or the reverse) is stored with status ignored.
    Side effects: one INSERT; at most one broker message per wake-up window. No Stripe call.
    """
    if len(body) > MAX_BODY_BYTES:
        raise IntakeError(f"body larger than {MAX_BODY_BYTES} bytes")
    try:
        stripe_gateway.webhook_verify_signature(
            payload=body, sig_header=sig_header, secrets=endpoint_secrets(source=source)
        )
    except stripe_gateway.WebhookSignatureError as exc:
        # In sandbox mode the sandbox may just have registered a new endpoint: re-read once.
        if not settings.STRIPE_SANDBOX or "does not match" not in str(exc):
            raise IntakeError(str(exc)) from None
        try:
            stripe_gateway.webhook_verify_signature(
                payload=body,
                sig_header=sig_header,
                secrets=endpoint_secrets(source=source, refresh=True),
            )
        except stripe_gateway.WebhookSignatureError as exc2:
            raise IntakeError(str(exc2)) from None
    try:  # bounded parse; refuses what PostgreSQL can't store and the wrong endpoint's events
        event = intake_checks.event_check(body, connect=source == Source.CONNECT)
    except ValueError as exc:
        raise IntakeError(str(exc)) from None
    text = body.decode("utf-8")
    fields = _event_fields(event)
    result = _event_insert(raw=text, fields=fields, source=source)
    if result.stored and not result.ignored_reason:
        wake_workers()
    return result


def _event_fields(event: Any) -> dict[str, Any]:
    """The columns of a StripeEvent taken from the event JSON, or ``IntakeError``."""
    if not isinstance(event, dict) or event.get("object", "event") != "event":
        raise IntakeError("body is not a Stripe event object")
    stripe_id, event_type, created = event.get("id"), event.get("type"), event.get("created")
    if not isinstance(stripe_id, str) or not stripe_id or len(stripe_id) > 255:
        raise IntakeError("event has no valid id")
    if not isinstance(event_type, str) or not event_type or len(event_type) > 255:
        raise IntakeError("event has no valid type")
    if not isinstance(created, int) or isinstance(created, bool) or created < 0:
        raise IntakeError("event has no valid created timestamp")
    account = event.get("account") or ""
    api_version = event.get("api_version") or ""
    if not isinstance(account, str) or not isinstance(api_version, str):
        raise IntakeError("event account or api_version is not a string")
    livemode = bool(event.get("livemode", False))
    ignored_reason = ""
    if livemode != _expected_livemode():
        ignored_reason = (
            "live-mode event on a test-mode endpoint"
            if livemode
            else "test-mode event on a live-mode endpoint"
        )
    return {
        "stripe_id": stripe_id,
        "type": event_type,
        "account": account[:255],
        "livemode": livemode,
        "api_version": api_version[:64],
        "created": datetime.fromtimestamp(created, tz=UTC),
        "ignored_reason": ignored_reason,
    }


@functools.cache
def _insert_fields() -> list[Field[Any, Any]]:
    names = [
        "stripe_id", "type", "account", "livemode", "api_version", "created", "ignored_reason",
        "source", "status", "attempts", "last_error", "last_traceback", "next_attempt_at",
        "received_at", "processed_at", "updated_at",
    ]  # fmt: skip
    return [cast("Field[Any, Any]", StripeEvent._meta.get_field(name)) for name in names]


@functools.cache
def _insert_sql(vendor: str) -> str:
    """``INSERT ... ON CONFLICT (stripe_id) DO NOTHING RETURNING id``, built once per backend."""
    quote = connection.ops.quote_name
    payload = cast("Field[Any, Any]", StripeEvent._meta.get_field("payload"))
    columns = [quote(str(f.column)) for f in _insert_fields()] + [quote(str(payload.column))]
    # The raw JSON text is stored as received (cast to jsonb on PostgreSQL), never re-serialized.
    placeholders = ["%s"] * (len(columns) - 1) + ["%s::jsonb" if vendor == "postgresql" else "%s"]
    # Only quoted identifiers from the model are interpolated; values are parameters.
    return (
        f"INSERT INTO {quote(StripeEvent._meta.db_table)} ({', '.join(columns)}) "  # noqa: S608
        f"VALUES ({', '.join(placeholders)}) ON CONFLICT ({quote('stripe_id')}) "
        f"DO NOTHING RETURNING {quote('id')}"
    )


def _event_insert(*, raw: str, fields: dict[str, Any], source: str) -> IntakeResult:
    """One ``INSERT ... ON CONFLICT (stripe_id) DO NOTHING RETURNING id``: race-free, one query.

    The raw JSON text is stored as received (``::jsonb`` on PostgreSQL), never re-serialized.
    """
    now = timezone.now()
    ignored = bool(fields["ignored_reason"])
    values: dict[str, Any] = {
        **fields,
        "source": source,
        "status": Status.IGNORED if ignored else Status.RECEIVED,
        "attempts": 0,
        "last_error": "",
        "last_traceback": "",
        "next_attempt_at": None,
        "received_at": now,
        "processed_at": now if ignored else None,
        "updated_at": now,
    }
    params = [field.get_db_prep_save(values[field.name], connection) for field in _insert_fields()]
    params.append(raw)
    sql = _insert_sql(connection.vendor)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    return IntakeResult(
        stripe_id=fields["stripe_id"],
        stored=row is not None,
        ignored_reason=fields["ignored_reason"],
    )


def event_store(*, event: dict[str, Any], source: str, account: str = "") -> bool:
    """Store an event obtained from the Stripe API (recovery), if we do not have it yet.

    Returns True if it was new. ``account`` fills in the connected account when the listed event
    does not name it. No wake-up: the caller wakes the workers once for a whole batch.
    """
    if account and not event.get("account"):
        event = {**event, "account": account}
    try:
        intake_checks.check_storable(event)
        intake_checks.check_created(event)
    except ValueError as exc:
        raise IntakeError(str(exc)) from None
    fields = _event_fields(event)
    raw = json.dumps(event, default=str)
    return _event_insert(raw=raw, fields=fields, source=source).stored


# --- Wake-up ------------------------------------------------------------------------------------

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


# --- Processing ---------------------------------------------------------------------------------


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
    by a killed worker is released by ``events_release_expired``). Three queries per batch.
    """
    now = timezone.now()
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
# disk flush, per group instead of per event); each event still runs in its own savepoint.
BATCH_TRANSACTION_SECONDS = 1.0


def events_process_batch(*, events: list[StripeEvent]) -> None:
    """Process claimed events, grouping them into transactions of at most ~1 s.

    Each handler runs in its own savepoint, and the status changes of the group (succeeded,
    ignored) are written by one UPDATE in the same transaction: a handler's writes and its event's
    status commit together or not at all. A raising handler rolls back alone (its event is marked
    failed). If the worker dies, the group's transaction rolls back entirely and its events, still
    claimed, are retried when their lease ends. If a claim turns out lost (lease ended, another
    worker re-claimed), the group is rolled back and redone event by event with ``event_process``.
    """
    i = 0
    while i < len(events):
        started = time.monotonic()
        group: list[StripeEvent] = []
        try:
            with transaction.atomic():
                done: dict[str, list[StripeEvent]] = {Status.SUCCEEDED: [], Status.IGNORED: []}
                while i < len(events):
                    event = events[i]
                    group.append(event)
                    i += 1
                    outcome = _event_run_handler(event=event)
                    if outcome in done:
                        done[outcome].append(event)
                    if time.monotonic() - started > BATCH_TRANSACTION_SECONDS:
                        break
                _events_mark_done(done)
        except _ClaimLost:
            logger.warning(
                "a claim of this batch was lost; redoing %d events one by one", len(group)
            )
            for event in group:
                event_process(event=event)


def _event_run_handler(*, event: StripeEvent) -> str:
    """Run the handler in a savepoint; on failure record it. Returns the event's outcome."""
    handler = handler_for(event.type)
    if handler is None:
        return Status.IGNORED
    try:
        with transaction.atomic():
            handler(event)
    except Exception as exc:
        return _event_fail(event=event, exc=exc)
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
    """
    started = time.monotonic()
    processed = 0
    while True:
        batch = events_claim(batch_size=batch_size)
        events_process_batch(events=batch)
        processed += len(batch)
        if time_budget is not None and time.monotonic() - started > time_budget:
            return DrainResult(processed=processed, more=len(batch) >= batch_size)
        if len(batch) < batch_size:
            if time.monotonic() - started >= linger:
                return DrainResult(processed=processed, more=False)
            time.sleep(0.05)


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


# --- Replay -------------------------------------------------------------------------------------


def events_replay(*, event_ids: Iterable[int]) -> int:
    """Re-queue events (any status but processing) for a fresh run of their handler.

    Attempts start again from zero; the last error stays visible until the next run. Handlers are
    idempotent, so replaying a succeeded event is safe. Wakes the workers after commit.
    Returns how many events were re-queued.
    """
    now = timezone.now()
    count = (
        StripeEvent.objects.filter(id__in=list(event_ids))
        .exclude(status=Status.PROCESSING)
        .update(
            status=Status.RECEIVED,
            attempts=0,
            next_attempt_at=None,
            ignored_reason="",
            processed_at=None,
            updated_at=now,
        )
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


# --- Missed-event recovery ----------------------------------------------------------------------


@dataclass(frozen=True)
class RecoveryResult:
    listed: int
    stored: int
    accounts: int
    errors: list[str]


def accounts_to_poll() -> list[str]:
    """Connected accounts whose events recovery lists: from the registered providers, or Stripe."""
    providers = account_providers()
    accounts: set[str] = set()
    if providers:
        for provider in providers:
            accounts.update(a for a in provider() if a)
    else:
        accounts.update(stripe_gateway.connected_account_ids())
    return sorted(accounts)


def events_recover(*, since: datetime, accounts: Iterable[str] | None = None) -> RecoveryResult:
    """List events created since ``since`` from Stripe and store those we never received.

    Covers the platform and each connected account (``accounts``, default ``accounts_to_poll()``).
    Stored events get source ``recovered`` and are processed like any other. An account whose
    listing fails is reported in ``errors`` and the others go on. Side effects: Stripe list calls
    (read-only), inserts, one wake-up.
    """
    created_gte = int(since.timestamp())
    errors: list[str] = []
    listed = stored = 0
    targets: list[str | None] = [None]
    try:
        targets += list(accounts_to_poll() if accounts is None else accounts)
    except stripe_gateway.GatewayError as exc:
        errors.append(f"listing connected accounts: {exc}")
    for account in targets:
        try:
            for event in stripe_gateway.event_list(created_gte=created_gte, account=account):
                listed += 1
                try:
                    if event_store(event=event, source=Source.RECOVERED, account=account or ""):
                        stored += 1
                except IntakeError as exc:
                    errors.append(f"{event.get('id')}: {exc}")
        except stripe_gateway.GatewayError as exc:
            errors.append(f"{account or 'platform'}: {exc}")
    if stored:
        logger.info("recovered %d missed Stripe events", stored)
        wake_workers()
    for error in errors:
        logger.warning("event recovery: %s", error)
    return RecoveryResult(listed=listed, stored=stored, accounts=len(targets) - 1, errors=errors)
