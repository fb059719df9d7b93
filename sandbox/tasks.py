"""Celery task running the sandbox's due work (beat schedules it when the sandbox is on)."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="sandbox.run_due", ignore_result=True)
def run_due() -> None:
    """Run the sandbox clock's due jobs and webhook retries (idempotent)."""
    from sandbox import clock

    clock.run_due()
