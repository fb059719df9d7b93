"""Stripe events that move money: each records the ledger and mirrors state, idempotently.

Registered in ``PayoutsConfig.ready()``. The event pipeline runs each handler in one transaction
per event and retries it when it raises. Forward-only state and the ledger's uniqueness on the
Stripe object make duplicated and out-of-order deliveries harmless.
"""

from __future__ import annotations

import logging

from marketplace.events.models import StripeEvent
from marketplace.events.registry import handles
from payouts import services
from sellers.models import Seller

logger = logging.getLogger(__name__)


def _seller_for_account(account: str) -> Seller | None:
    if not account:
        return None
    return Seller.objects.filter(stripe_account_id=account).first()


@handles("payout.created", "payout.updated", "payout.paid", "payout.failed", "payout.canceled")
def on_payout(event: StripeEvent) -> None:
    """A payout of a connected account: mirror it, record the ledger, email on failure."""
    data = event.data_object
    if data.get("object") not in (None, "payout") or not data.get("id"):
        return
    seller = _seller_for_account(event.account)
    if seller is None:
        logger.info(
            "event %s: payout of account %r, not one of our sellers", event.stripe_id, event.account
        )
        return
    services.payout_sync(seller=seller, data=data)
