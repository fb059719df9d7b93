"""A real Celery worker against Redis processes a webhook delivery end to end."""

from __future__ import annotations

import os
import threading
import time

import pytest
from django.conf import settings as django_settings

from marketplace.events.models import StripeEvent
from tests.events.signing import make_event

pytestmark = [
    pytest.mark.celery_worker,
    pytest.mark.skipif(
        not os.environ.get("REDIS_URL"),
        reason="needs a Redis broker: set REDIS_URL to run a real Celery worker",
    ),
    pytest.mark.django_db(transaction=True),
]


def wait_for(predicate, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_worker_processes_a_delivered_event(post_event, handlers):
    from celery.contrib.testing.worker import start_worker

    from marketplace.celery import app

    assert not django_settings.CELERY_TASK_ALWAYS_EAGER
    seen = []
    threads = []

    def handler(event):
        seen.append(event.stripe_id)
        threads.append(threading.current_thread())

    handlers["account.updated"] = handler
    event = make_event()
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        # Intake commits (no test transaction here) and wakes the worker through Redis.
        assert post_event(event).status_code == 200
        assert wait_for(
            lambda: StripeEvent.objects.filter(stripe_id=event["id"], status="succeeded").exists()
        ), StripeEvent.objects.values_list("status", flat=True)[:1]
    assert seen == [event["id"]]
    # Run by the worker, not in this thread (as it would be with tasks in-process).
    assert threads and threads[0] is not threading.main_thread()
