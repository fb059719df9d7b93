"""Fault injection takes no database lock that outlives the decision: two transactions that each
lock a row of their own (a worker's batch locking seller rows) and consume faults in opposite
orders do not deadlock. Before, ``faults.consume`` did ``SELECT ... FOR UPDATE`` on the fault row
inside the caller's transaction."""

from __future__ import annotations

import os
import threading

import pytest
from django.contrib.auth import get_user_model
from django.db import connection, transaction

from sandbox import faults
from sandbox.models import Fault
from tests.factories import UserFactory


def test_uses_are_counted_and_the_last_one_deletes_the_fault(db):
    faults.inject("500", count=2, path_prefix="/v1/accounts")
    assert faults.consume("GET", "/v1/charges") is None
    assert faults.consume("POST", "/v1/accounts").kind == "500"
    assert faults.remaining(Fault.objects.get()) == 1
    assert faults.consume("POST", "/v1/accounts").kind == "500"
    assert not Fault.objects.exists()
    assert faults.consume("POST", "/v1/accounts") is None


def test_a_fault_used_up_but_rolled_back_does_not_fire_again(db):
    faults.inject("429", count=1)
    with pytest.raises(RuntimeError), transaction.atomic():
        assert faults.consume("GET", "/v1/x") is not None
        raise RuntimeError("the caller's transaction rolls back")
    assert Fault.objects.count() == 1  # the delete was rolled back with it
    assert faults.consume("GET", "/v1/x") is None


@pytest.mark.skipif(
    "postgres" not in os.environ.get("DATABASE_URL", ""),
    reason="needs PostgreSQL (DATABASE_URL): SQLite serializes writers, so there is no deadlock",
)
@pytest.mark.django_db(transaction=True)
def test_two_batches_consuming_faults_do_not_deadlock():
    faults.inject("latency", count=10)
    users = [UserFactory(), UserFactory()]
    barrier = threading.Barrier(2, timeout=10)
    errors: list[BaseException] = []

    def batch(first: int) -> None:
        try:
            with transaction.atomic():
                # lock "my" seller row, use a fault, then lock the other's row
                get_user_model().objects.select_for_update().get(pk=users[first].pk)
                if first == 0:
                    faults.consume("GET", "/v1/accounts")
                barrier.wait()
                if first == 1:
                    faults.consume("GET", "/v1/accounts")
                    return  # does not need the other row
                with connection.cursor() as cursor:
                    cursor.execute("SET LOCAL lock_timeout = '5s'")
                get_user_model().objects.select_for_update().get(pk=users[1].pk)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    # Thread 0 holds user 0 and (before) the fault row, then wants user 1; thread 1 holds user 1
    # and (before) waited for the fault row: a cycle. Now thread 1 takes its fault use without
    # waiting, commits, and thread 0 gets user 1.
    threads = [threading.Thread(target=batch, args=(i,)) for i in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert faults.remaining(Fault.objects.get()) == 8
