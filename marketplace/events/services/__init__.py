"""Writes of the event pipeline, one module per concern.

The flow (docs/architecture.md, "How a webhook travels"):

1. ``intake.event_receive`` (called by the webhook views) verifies ``Stripe-Signature`` on the raw
   body (secrets from ``endpoints``), stores the event with one ``INSERT ... ON CONFLICT DO
   NOTHING`` and wakes the workers (``wakeup``: at most one broker message per short window).
   No Stripe call, no business logic.
2. ``processing.events_drain`` (run by the ``drain_events`` task) claims pending events in batches
   (``FOR UPDATE SKIP LOCKED`` on PostgreSQL) and runs each one's handler in one transaction
   together with the status change to succeeded, so a crash leaves no half-applied effect.
3. Failures are kept (error and traceback), retried with exponential backoff, and after
   ``EVENTS_MAX_ATTEMPTS`` tries wait as dead letters until an admin replays them (``replay``).
4. ``recovery.events_recover`` lists recent events from Stripe and stores those we never received.

New code imports from the concern module; the names below are re-exported so
``from marketplace.events import services`` keeps working.
"""

from marketplace.events.services.endpoints import (
    ENDPOINT_URL_NAMES,
    endpoint_secrets,
    sandbox_secrets_forget,
    webhook_endpoints_ensure_sandbox,
)
from marketplace.events.services.intake import (
    MAX_BODY_BYTES,
    IntakeError,
    IntakeResult,
    event_receive,
    event_store,
)
from marketplace.events.services.processing import (
    BATCH_TRANSACTION_SECONDS,
    DrainResult,
    claim_lease,
    event_process,
    events_claim,
    events_drain,
    events_pending_count,
    events_process_batch,
    events_release_expired,
    max_attempts,
    retry_delay,
)
from marketplace.events.services.recovery import RecoveryResult, accounts_to_poll, events_recover
from marketplace.events.services.replay import events_replay, events_replay_failed
from marketplace.events.services.wakeup import (
    LOCAL_WAKE_WINDOW_SECONDS,
    WAKE_KEY,
    drain_soon,
    wake_key_clear,
    wake_workers,
)

__all__ = [
    "BATCH_TRANSACTION_SECONDS",
    "ENDPOINT_URL_NAMES",
    "LOCAL_WAKE_WINDOW_SECONDS",
    "MAX_BODY_BYTES",
    "WAKE_KEY",
    "DrainResult",
    "IntakeError",
    "IntakeResult",
    "RecoveryResult",
    "accounts_to_poll",
    "claim_lease",
    "drain_soon",
    "endpoint_secrets",
    "event_process",
    "event_receive",
    "event_store",
    "events_claim",
    "events_drain",
    "events_pending_count",
    "events_process_batch",
    "events_recover",
    "events_release_expired",
    "events_replay",
    "events_replay_failed",
    "max_attempts",
    "retry_delay",
    "sandbox_secrets_forget",
    "wake_key_clear",
    "wake_workers",
    "webhook_endpoints_ensure_sandbox",
]
