"""Intake: verify, parse and store one webhook delivery (or an event listed by recovery)."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.models import Field
from django.utils import timezone

from marketplace import stripe_gateway
from marketplace.events import intake_checks
from marketplace.events.models import StripeEvent
from marketplace.events.services._common import Status, _setting
from marketplace.events.services.endpoints import endpoint_secrets
from marketplace.events.services.wakeup import wake_workers

# A webhook body larger than this is refused before it is read (Stripe's events are a few KiB).
MAX_BODY_BYTES = 512 * 1024


class IntakeError(Exception):
    """A webhook delivery refused with 400; ``str(exc)`` is the one-line reason."""


@dataclass(frozen=True)
class IntakeResult:
    stripe_id: str
    stored: bool  # False: a duplicate delivery, nothing new stored
    ignored_reason: str = ""


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
        event = intake_checks.event_check(body, connect=source == StripeEvent.Source.CONNECT)
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


# Columns with the same value in every new row: literals in the statement, not parameters.
_INSERT_CONSTANTS = {
    "attempts": "0",
    "last_error": "''",
    "last_traceback": "''",
    "next_attempt_at": "NULL",
}


@functools.cache
def _insert_fields() -> list[Field[Any, Any]]:
    """The columns whose values are parameters, in the order of ``_insert_sql`` (and of the
    parameters ``_event_insert`` passes)."""
    names = [
        "stripe_id", "type", "account", "livemode", "api_version", "created", "ignored_reason",
        "source", "status", "received_at", "processed_at", "updated_at",
    ]  # fmt: skip
    return [cast("Field[Any, Any]", StripeEvent._meta.get_field(name)) for name in names]


@functools.cache
def _insert_sql(vendor: str) -> str:
    """``INSERT ... ON CONFLICT (stripe_id) DO NOTHING``, built once per backend."""
    quote = connection.ops.quote_name
    payload = cast("Field[Any, Any]", StripeEvent._meta.get_field("payload"))
    columns = [quote(str(f.column)) for f in _insert_fields()]
    values = ["%s"] * len(columns)
    for name, literal in _INSERT_CONSTANTS.items():
        field = cast("Field[Any, Any]", StripeEvent._meta.get_field(name))
        columns.append(quote(str(field.column)))
        values.append(literal)
    # The raw JSON text is stored as received (cast to jsonb on PostgreSQL), never re-serialized.
    columns.append(quote(str(payload.column)))
    values.append("%s::jsonb" if vendor == "postgresql" else "%s")
    # Only quoted identifiers from the model and constant literals are interpolated; values are
    # parameters. The row count (1 or 0) tells a new event from a duplicate: no RETURNING.
    return (
        f"INSERT INTO {quote(StripeEvent._meta.db_table)} ({', '.join(columns)}) "  # noqa: S608
        f"VALUES ({', '.join(values)}) ON CONFLICT ({quote('stripe_id')}) DO NOTHING"
    )


def _insert_cursor(conn: Any) -> Any:
    """A cursor for the intake INSERT on ``conn``. On PostgreSQL (psycopg 3) one that binds
    parameters on the server: the JSON body travels as a parameter instead of being escaped into
    the SQL text in Python (a quarter of the INSERT's cost), and the statement is prepared once
    per connection (``DB_PREPARED_STATEMENTS``: psycopg's ``prepare_threshold``, which only
    server-binding cursors use), so the server no longer parses and plans it on every delivery.
    Wrapped like ``connection.cursor()``'s, so query logging, ``CaptureQueriesContext`` and
    execute wrappers still see the statement."""
    if conn.vendor == "postgresql":
        from django.db.backends.postgresql.psycopg_any import is_psycopg3

        if is_psycopg3:
            from django.db.backends.postgresql import base

            server_binding: Any = base.ServerBindingCursor  # psycopg.Cursor + Django's mixin
            conn.close_if_health_check_failed()  # as connection.cursor() does
            conn.ensure_connection()
            with conn.wrap_database_errors:
                raw: Any = server_binding(conn.connection)
            if conn.queries_logged:
                return conn.make_debug_cursor(raw)
            return conn.make_cursor(raw)
    return conn.cursor()


def _event_insert(*, raw: str, fields: dict[str, Any], source: str) -> IntakeResult:
    """One ``INSERT ... ON CONFLICT (stripe_id) DO NOTHING``: race-free, one statement, one
    transaction (autocommit; the webhook views are ``non_atomic_requests``).

    The raw JSON text is stored as received (``::jsonb`` on PostgreSQL), never re-serialized.
    The parameters are the values themselves (strings, a bool, datetimes through the backend's
    own adapter): what ``Field.get_db_prep_save`` would return for them, without its calls.
    """
    conn = connections[DEFAULT_DB_ALIAS]  # one lookup, not one per attribute through the proxy
    adapt = conn.ops.adapt_datetimefield_value
    now = adapt(timezone.now())
    ignored = fields["ignored_reason"]
    params = [
        fields["stripe_id"],
        fields["type"],
        fields["account"],
        fields["livemode"],
        fields["api_version"],
        adapt(fields["created"]),
        ignored,
        source,
        Status.IGNORED if ignored else Status.RECEIVED,
        now,  # received_at
        now if ignored else None,  # processed_at
        now,  # updated_at
        raw,
    ]
    sql = _insert_sql(conn.vendor)
    with _insert_cursor(conn) as cursor:
        cursor.execute(sql, params)
        stored = cursor.rowcount == 1
    return IntakeResult(stripe_id=fields["stripe_id"], stored=stored, ignored_reason=ignored)


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
