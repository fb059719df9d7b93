"""Stripe events of purchases paid on our own page (``buyers/services/onsite.py``). Each handler re-reads
the PaymentIntent through the gateway (``payment_intent_sync``); the payload is only a pointer.

``payment_intent.succeeded`` and the return page fulfil through the same idempotent service,
whichever comes first. Intents that name no purchase (``metadata.purchase_id``), e.g. those a
Checkout Session or an invoice made, are left to their own handlers.
"""

from __future__ import annotations

import logging

from buyers.models import Purchase
from buyers.services import onsite
from marketplace.errors import UserFacingError
from marketplace.events.models import StripeEvent
from marketplace.events.registry import handles

logger = logging.getLogger(__name__)


@handles(
    "payment_intent.succeeded",
    "payment_intent.payment_failed",
    "payment_intent.amount_capturable_updated",
    "payment_intent.canceled",
)
def on_payment_intent(event: StripeEvent) -> None:
    """Sync the purchase an on-site PaymentIntent pays: paid, authorised (awaiting the seller),
    canceled (released) or failed (the buyer may try another card: nothing changes)."""
    obj = event.data_object
    if event.account or obj.get("object") not in (None, "payment_intent"):
        return
    metadata = obj.get("metadata") or {}
    if not str(metadata.get("purchase_id") or "").isdigit() or obj.get("invoice"):
        return
    intent_id = str(obj.get("id") or "")
    if not intent_id:
        return
    if Purchase.objects.filter(
        pk=int(metadata["purchase_id"]), checkout_session_id__isnull=False
    ).exists():
        # Paid on hosted Checkout: its session's handlers record it, and payment_intent_sync
        # would only read the intent to find that out (Stripe requests per order are bounded).
        return
    try:
        onsite.payment_intent_sync(payment_intent_id=intent_id)
    except UserFacingError as exc:
        logger.warning("event %s: %s", event.stripe_id, exc.message)
