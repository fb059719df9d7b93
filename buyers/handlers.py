"""Stripe events of the buying side. Each handler re-reads the session through the gateway.

Registered in ``BuyersConfig.ready()``; the event pipeline runs each in one transaction and retries
it when it raises.
"""

from __future__ import annotations

import logging

from buyers import services
from marketplace.errors import UserFacingError
from marketplace.events.models import StripeEvent
from marketplace.events.registry import handles

logger = logging.getLogger(__name__)


def _session_id(event: StripeEvent) -> str | None:
    obj = event.data_object
    if obj.get("object") not in (None, "checkout.session"):
        return None
    session_id = obj.get("id")
    return str(session_id) if session_id else None


@handles(
    "checkout.session.completed",
    "checkout.session.async_payment_succeeded",
    "checkout.session.expired",
)
def on_checkout_session(event: StripeEvent) -> None:
    """Completed, async payment succeeded or expired: sync the purchase and its orders with the session."""
    session_id = _session_id(event)
    if session_id is None:
        return
    try:
        services.purchase_fulfil(checkout_session_id=session_id, told=event.data_object)
    except UserFacingError as exc:
        # Not a session Stripe knows (any more): nothing to retry.
        logger.warning("event %s: %s", event.stripe_id, exc.message)


@handles("checkout.session.async_payment_failed")
def on_async_payment_failed(event: StripeEvent) -> None:
    session_id = _session_id(event)
    if session_id is None:
        return
    try:
        services.purchase_payment_failed(checkout_session_id=session_id)
    except UserFacingError as exc:
        logger.warning("event %s: %s", event.stripe_id, exc.message)
