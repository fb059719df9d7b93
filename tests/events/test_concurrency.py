"""Races that only a real database shows: duplicate deliveries and concurrent workers."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections
from django.test import Client

from marketplace.events import services
from marketplace.events.models import StripeEvent
from tests.events.signing import PLATFORM_SECRET, body_of, make_event, sign

postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs PostgreSQL (DATABASE_URL): SQLite serializes writers, so there is no race",
)
pytestmark = [postgres_only, pytest.mark.django_db(transaction=True)]


def run_in_threads(target, count: int) -> list:
    barrier = threading.Barrier(count)
    results: list = [None] * count
    errors: list = []

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=10)
            results[i] = target(i)
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors, errors
    return results


def test_two_simultaneous_deliveries_store_one_event(settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}
    for _ in range(10):
        event = make_event()
        body = body_of(event)
        header = sign(body, PLATFORM_SECRET)

        def deliver(i: int, body=body, header=header) -> bytes:
            response = Client().post(
                "/stripe/webhook/",
                data=body,
                content_type="application/json",
                HTTP_STRIPE_SIGNATURE=header,
            )
            assert response.status_code == 200
            return response.content

        answers = run_in_threads(deliver, 2)
        assert sorted(answers) == [b"duplicate\n", b"stored\n"]
        assert StripeEvent.objects.filter(stripe_id=event["id"]).count() == 1


def test_two_workers_draining_at_once_run_each_handler_once(handlers):
    seen: list[str] = []
    lock = threading.Lock()

    def handler(event):
        StripeEvent.objects.filter(id=event.id).exists()  # touch the database
        with lock:
            seen.append(event.stripe_id)

    handlers["account.updated"] = handler
    ids = []
    for _ in range(60):
        event = make_event()
        ids.append(event["id"])
        services.event_store(event=event, source="platform")

    run_in_threads(lambda i: services.events_drain(batch_size=5).processed, 3)
    assert sorted(seen) == sorted(ids)
    assert StripeEvent.objects.filter(status="succeeded").count() == 60
