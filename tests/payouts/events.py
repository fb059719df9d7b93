"""Build StripeEvent rows as the intake stores them, and run our handler for them."""

from __future__ import annotations

import itertools
import time

from django.utils import timezone

from marketplace.events.models import StripeEvent
from marketplace.events.registry import handler_for

_ids = itertools.count(1)


def make_event(event_type: str, obj: dict, *, account: str = "") -> StripeEvent:
    stripe_id = f"evt_test{next(_ids):08d}"
    payload = {
        "id": stripe_id,
        "object": "event",
        "type": event_type,
        "account": account or None,
        "created": int(time.time()),
        "livemode": False,
        "api_version": "2025-01-01",
        "data": {"object": obj},
    }
    return StripeEvent.objects.create(
        stripe_id=stripe_id,
        type=event_type,
        account=account,
        created=timezone.now(),
        payload=payload,
        source="connect" if account else "platform",
    )


def deliver(event_type: str, obj: dict, *, account: str = "") -> StripeEvent:
    event = make_event(event_type, obj, account=account)
    handler = handler_for(event_type)
    assert handler is not None, f"no handler for {event_type}"
    handler(event)
    return event
