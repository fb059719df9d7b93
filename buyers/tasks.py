"""Celery tasks of the buying side: they take ids and call one service."""

from __future__ import annotations

from celery import shared_task

from buyers import emails, services


@shared_task(acks_late=True)
def send_order_email(order_id: int, kind: str) -> None:
    emails.send_order_email(order_id=order_id, kind=kind)


@shared_task(acks_late=True)
def expire_stale_orders() -> int:
    """Expire the Checkout Sessions of orders left pending past their deadline; release stock."""
    return services.orders_expire_stale()
