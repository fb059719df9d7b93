"""Celery tasks of the after-sale: they take ids and call one function."""

from __future__ import annotations

from celery import shared_task

from buyers.aftersale import emails


@shared_task(acks_late=True)
def send_aftersale_email(kind: str, object_id: int) -> int:
    return emails.send_aftersale_email(kind=kind, object_id=object_id)
