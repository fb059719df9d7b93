"""Periodic safety net: re-read every connected seller's account, in case an event was lost."""

from __future__ import annotations

import functools
import logging

from celery import shared_task
from django.db import transaction

from marketplace.stripe_gateway import GatewayError
from sellers import selectors, services
from sellers.models import Seller

logger = logging.getLogger(__name__)


@shared_task(acks_late=True)
def sync_seller_account(seller_id: int) -> None:
    """Re-read one seller's Stripe account and update the mirror."""
    seller = Seller.objects.filter(pk=seller_id).first()
    if seller is None or seller.status == Seller.Status.DISCONNECTED:
        return
    try:
        services.seller_sync_account(seller=seller)
    except GatewayError as exc:
        logger.warning("could not sync account of seller %s: %s", seller_id, exc.message)


@shared_task(acks_late=True)
def sync_all_seller_accounts() -> int:
    """Enqueue a re-read of every connected seller's account; returns how many."""
    ids = list(selectors.sellers_to_sync().values_list("pk", flat=True))
    for seller_id in ids:
        transaction.on_commit(functools.partial(sync_seller_account.delay, seller_id))
    return len(ids)


@shared_task(acks_late=True)
def send_requirements_due_email(seller_id: int) -> None:
    """Tell the seller what Stripe now needs from them."""
    services.seller_email_requirements_due(seller_id=seller_id)
