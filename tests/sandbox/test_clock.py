from __future__ import annotations

import time

import pytest

from sandbox import clock, testing


def test_now_is_real_time_plus_offset(db):
    assert abs(clock.now() - int(time.time())) <= 1
    testing.advance(days=1)
    assert abs(clock.now() - int(time.time()) - 86400) <= 1


def test_clock_never_goes_back(db):
    with pytest.raises(ValueError):
        clock.advance(-1)


def test_registered_jobs_run_on_advance_and_a_failing_job_does_not_stop_others(db):
    seen = []

    def broken():
        raise RuntimeError("boom")

    def record():
        seen.append(clock.now())

    clock.register_job(broken, name="tests.broken")
    clock.register_job(record, name="tests.record")
    clock.register_job(record, name="tests.record")  # same name: replaced, not doubled
    try:
        now = testing.advance(hours=1)
        # Once, and at the advanced time (the clock follows real seconds, so allow one tick).
        assert len(seen) == 1 and now - 2 <= seen[0] <= now
    finally:
        clock._jobs[:] = [(n, j) for n, j in clock._jobs if not n.startswith("tests.")]
