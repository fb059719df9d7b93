"""Webhook intake costs one statement in one transaction on PostgreSQL: counted on the wire.

Django's query log misses statements the database layer runs on its own (the connection health
check's ``SELECT 1`` before a request's first query, a transaction's BEGIN/COMMIT), so these
tests read libpq's trace of the protocol messages of the test's own connection: each statement is
a Parse (or a simple Query) message, and each transaction in autocommit ends with one
ReadyForQuery the server sends when it is idle again.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.db import close_old_connections, connection
from django.test.utils import CaptureQueriesContext

from marketplace.events.models import StripeEvent
from marketplace.events.services import wakeup
from tests.events.conftest import CONNECT_URL
from tests.events.signing import make_event

pytestmark = [
    pytest.mark.django_db(transaction=True),  # autocommit, as under gunicorn: real commits
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="reads PostgreSQL's wire protocol (libpq trace)"
    ),
]


@pytest.fixture(autouse=True)
def wakeups(monkeypatch):
    """Wake-ups recorded, not run: the tests' Celery is eager and would drain in-process (on
    the traced connection); in production a wake-up is a Redis command, no database work."""
    woken: list[int] = []
    monkeypatch.setattr(wakeup, "_wake_now", lambda: woken.append(1))
    return woken


@contextmanager
def wire_trace() -> Iterator[list[tuple[str, str, str]]]:
    """(direction F/B, message type, rest of the line) of every protocol message sent or received
    on the default connection inside the block, which starts as a request under a server does:
    Django's ``request_started`` closes old connections and re-arms the health check (the test
    client leaves that signal out)."""
    from psycopg import pq

    close_old_connections()  # a connection past CONN_MAX_AGE is replaced before the trace
    connection.ensure_connection()
    pgconn = connection.connection.pgconn
    messages: list[tuple[str, str, str]] = []
    with tempfile.TemporaryFile("w+") as f:
        pgconn.trace(f.fileno())
        pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS | pq.Trace.REGRESS_MODE)
        try:
            close_old_connections()
            yield messages
        finally:
            pgconn.untrace()  # flushes libpq's buffer
            assert connection.connection is not None, "the request closed the traced connection"
            assert connection.connection.pgconn is pgconn, "the request opened a new connection"
            f.seek(0)
            for line in f.read().splitlines():
                direction, _length, kind, *rest = [*line.split("\t"), ""]
                messages.append((direction, kind, rest[0]))


def statements(messages: list[tuple[str, str, str]]) -> list[str]:
    """One entry per statement run: a simple Query's text, or an extended-protocol Execute's
    (its Bind names the statement: unnamed, parsed just before, or prepared earlier)."""
    return [rest for d, kind, rest in messages if d == "F" and kind in ("Execute", "Query")]


def parsed(messages: list[tuple[str, str, str]]) -> list[str]:
    """The SQL text of each statement the server was sent to parse (Parse, or a simple Query)."""
    return [rest for d, kind, rest in messages if d == "F" and kind in ("Parse", "Query")]


def transactions(messages: list[tuple[str, str, str]]) -> int:
    return sum(1 for d, kind, rest in messages if d == "B" and kind == "ReadyForQuery")


def test_intake_is_one_insert_in_one_transaction(post_event, wakeups):
    post_event(make_event())  # the connection is open and warm, as on a worker's Nth request
    wakeups.clear()
    event = make_event("account.updated", account="acct_wire")
    with CaptureQueriesContext(connection) as queries, wire_trace() as messages:
        response = post_event(event, url=CONNECT_URL)
    assert response.status_code == 200
    assert len(statements(messages)) == 1, messages
    assert len(queries) == 1, queries
    # (server-side binding: Django logs it as QUERY = '...' PARAMS = ...)
    assert '\'INSERT INTO "events_stripeevent"' in queries[0]["sql"], queries
    assert transactions(messages) == 1, messages
    assert StripeEvent.objects.filter(stripe_id=event["id"]).count() == 1
    assert wakeups == [1]  # after the commit, the workers are woken once


def test_a_duplicate_delivery_is_also_one_statement(post_event, wakeups):
    event = make_event()
    post_event(event)
    wakeups.clear()
    with wire_trace() as messages:
        response = post_event(event)
    assert response.content == b"duplicate\n"
    assert len(statements(messages)) == 1
    assert transactions(messages) == 1
    assert wakeups == []  # nothing new to process


def test_a_bad_signature_touches_no_table(post_event):
    post_event(make_event())
    with wire_trace() as messages:
        response = post_event(make_event(), secret="whsec_forged")
    assert response.status_code == 400
    assert statements(messages) == []
    assert transactions(messages) == 0


def test_the_connection_health_check_would_be_a_second_transaction(post_event):
    """What ``DB_CONN_HEALTH_CHECKS=1`` costs (off by default): this trace sees it."""
    post_event(make_event())
    connection.health_check_enabled = True
    try:
        with wire_trace() as messages:
            response = post_event(make_event())
    finally:
        connection.health_check_enabled = bool(connection.settings_dict["CONN_HEALTH_CHECKS"])
    assert response.status_code == 200
    sql = statements(messages)
    assert len(sql) == 2, sql
    assert "SELECT 1" in parsed(messages)[0], messages
    assert transactions(messages) == 2


def test_the_insert_is_parsed_once_per_connection(post_event):
    """Prepared on the connection's first delivery (Parse of the INSERT, its own round trip),
    then only bound and executed: the server no longer parses and plans it per delivery."""
    close_old_connections()
    connection.close()  # a new connection: nothing prepared on it yet
    with wire_trace() as first:
        assert post_event(make_event()).status_code == 200
    with wire_trace() as second:
        assert post_event(make_event()).status_code == 200
    assert [p for p in parsed(first) if "INSERT" in p], first
    assert parsed(second) == [], second
    assert len(statements(second)) == 1 and transactions(second) == 1, second
