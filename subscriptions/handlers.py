"""Stripe events of subscriptions: ``customer.subscription.*`` and ``invoice.*``.

``customer.subscription.*`` re-read the subscription from Stripe (the payload may be stale or
out of order) and apply it under our row's lock. ``invoice.*`` use the event's invoice where it
only tells the invoice's own progress (``invoice.created`` / ``finalized``: applied when it moves
our row forward, no request), and re-read the invoice once, its subscription and payment
expanded, when the subscription may have changed (paid, failed, voided ...): see
``services.invoice_sync``. Duplicated and shuffled events end in Stripe's final state.
Registered in ``SubscriptionsConfig.ready()``.
"""

from __future__ import annotations

import logging

from marketplace.events.models import StripeEvent
from marketplace.events.registry import handles
from subscriptions import services

logger = logging.getLogger(__name__)


def _object_id(event: StripeEvent, kind: str) -> str:
    obj = event.data_object
    if event.account or obj.get("object") != kind:
        # Our subscriptions live on the platform account.
        return ""
    return str(obj.get("id") or "")


@handles(
    "customer.subscription.created",
    "customer.subscription.updated",
    "customer.subscription.deleted",
    "customer.subscription.paused",
    "customer.subscription.resumed",
    "customer.subscription.pending_update_applied",
    "customer.subscription.pending_update_expired",
)
def on_subscription(event: StripeEvent) -> None:
    stripe_id = _object_id(event, "subscription")
    if stripe_id:
        metadata = event.data_object.get("metadata") or {}
        services.subscription_sync(
            stripe_subscription_id=stripe_id,
            our_id=services.our_id_from_metadata({k: str(v) for k, v in metadata.items()}),
            as_of=event.created,
        )


@handles("customer.subscription.trial_will_end")
def on_trial_will_end(event: StripeEvent) -> None:
    stripe_id = _object_id(event, "subscription")
    if stripe_id:
        services.trial_will_end(stripe_subscription_id=stripe_id)


@handles(
    "invoice.created",
    "invoice.finalized",
    "invoice.updated",
    "invoice.paid",
    "invoice.payment_succeeded",
    "invoice.payment_failed",
    "invoice.payment_action_required",
    "invoice.marked_uncollectible",
    "invoice.voided",
)
def on_invoice(event: StripeEvent) -> None:
    invoice_id = _object_id(event, "invoice")
    if invoice_id:
        services.invoice_sync(
            stripe_invoice_id=invoice_id,
            event_type=event.type,
            as_of=event.created,
            told=dict(event.data_object),
        )
