"""Helpers for the apps' event handlers: ordering and re-fetching.

Stripe delivers events at least once and in any order. A handler stays correct if it

- locks the row it changes (``select_for_update``),
- ignores an event older than the state it already applied (``event_is_stale``), recording the
  event's ``created`` on the row when it applies one (e.g. ``Seller.account_synced_at``),
- and, where the payload may be stale, applies the object's current version from Stripe
  (``event_current_object``) rather than ``event.data_object``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from marketplace import stripe_gateway
from marketplace.events.models import StripeEvent


def event_is_stale(*, event: StripeEvent, applied_at: datetime | None) -> bool:
    """True when ``event`` is older than the state already applied at ``applied_at``.

    ``applied_at`` is the ``created`` of the last event applied to the row (None: nothing yet).
    An event created in the same second is not stale: Stripe's timestamps have one-second
    resolution, so for objects that change several times a second re-fetch the object instead.
    """
    return applied_at is not None and event.created < applied_at


def event_current_object(event: StripeEvent) -> dict[str, Any]:
    """The current version of the event's ``data.object``, fetched from Stripe through the gateway.

    Uses ``stripe_account=event.account`` for Connect events. Raises ``GatewayError`` (the event is
    then retried with backoff) when Stripe cannot be reached.
    """
    obj = event.data_object
    object_type, object_id = obj.get("object"), obj.get("id")
    if not isinstance(object_type, str) or not isinstance(object_id, str):
        raise stripe_gateway.GatewayError(
            f"event {event.stripe_id} has no data.object id to re-fetch"
        )
    return stripe_gateway.object_retrieve(
        object_type=object_type, object_id=object_id, stripe_account=event.account or None
    )
