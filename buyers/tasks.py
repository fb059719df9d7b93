"""Celery tasks of the buying side: they take ids and call one service."""

from __future__ import annotations

from celery import shared_task

from buyers import emails, services


@shared_task(acks_late=True)
def send_order_email(order_id: int, kind: str) -> None:
    emails.send_order_email(order_id=order_id, kind=kind)


@shared_task(acks_late=True)
def send_order_emails(order_id: int, kinds: list[str]) -> None:
    """Several emails of one order (the buyer's and the seller's of a payment): one message
    on the broker instead of one each."""
    for kind in kinds:
        emails.send_order_email(order_id=order_id, kind=kind)


@shared_task(acks_late=True)
def expire_stale_orders() -> int:
    """Expire the Checkout Sessions of purchases left pending past their deadline; release
    stock."""
    return services.purchases_expire_stale()


@shared_task(acks_late=True)
def create_purchase_transfers(purchase_id: int) -> int:
    """Pay each seller of a several-seller purchase their share (idempotent: a replay, or a
    worker dying half-way and the task redelivered, never pays a seller twice). Failed transfers
    wait for their backoff and ``retry_due_transfers``. Returns how many still wait."""
    return len(services.purchase_transfers_create(purchase_id=purchase_id))


@shared_task(acks_late=True)
def retry_due_transfers() -> int:
    """Try again the transfers to sellers that failed, once their backoff has passed."""
    return services.transfers_retry_due()


@shared_task(acks_late=True)
def expire_unaccepted_orders() -> int:
    """Cancel the card authorisations of orders their seller did not accept in time
    (``ORDER_ACCEPT_WINDOW``); release the stock, tell both sides."""
    from buyers.services import onsite

    return onsite.acceptances_expire_due()
