"""Celery tasks of subscriptions: they take ids and call one function."""

from __future__ import annotations

from celery import shared_task

from subscriptions import emails


@shared_task(acks_late=True)
def send_subscription_email(subscription_id: int, kind: str, invoice_id: int | None = None) -> None:
    emails.send_subscription_email(
        subscription_id=subscription_id, kind=kind, invoice_id=invoice_id
    )
