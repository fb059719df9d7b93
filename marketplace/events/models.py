"""Stripe events as received: stored first (raw payload), processed later by workers.

Anchor: dj-stripe's ``djstripe/models/webhooks.py`` (store the raw event before any logic).
"""

from __future__ import annotations

from typing import Any

from django.db import models


class StripeEvent(models.Model):
    """One Stripe event, unique on its Stripe id. ``payload`` is the full event JSON as delivered.

    Status moves received -> processing -> succeeded | failed | ignored; failed events are retried
    with backoff, then wait as dead letters (``dead``) until an admin replays them.
    """

    class Status(models.TextChoices):
        RECEIVED = "received", "Received"
        PROCESSING = "processing", "Processing"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed (will retry)"
        DEAD = "dead", "Dead letter"
        IGNORED = "ignored", "Ignored"

    class Source(models.TextChoices):
        PLATFORM = "platform", "Platform endpoint"
        CONNECT = "connect", "Connect endpoint"
        RECOVERED = "recovered", "Recovered from the events list"

    stripe_id = models.CharField(max_length=255, unique=True)
    # Not indexed, nor is ``account``: no query of ours looks events up by either (the admin's
    # filters on them scan), and every index is one more write per webhook delivery.
    type = models.CharField(max_length=255)
    # The connected account (acct_...) for Connect events, empty for platform events.
    account = models.CharField(max_length=255, blank=True)
    livemode = models.BooleanField(default=False)
    api_version = models.CharField(max_length=64, blank=True)
    created = models.DateTimeField(help_text="When Stripe created the event")
    payload = models.JSONField()
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.PLATFORM)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RECEIVED)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    # The full traceback of the last failure (``last_error`` is its one-line summary).
    last_traceback = models.TextField(blank=True)
    # Why an event was ignored (no handler, wrong mode ...), shown in the admin.
    ignored_reason = models.CharField(max_length=255, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        # Partial indexes only: a row intake inserts (received, or ignored) enters the pending
        # index alone, besides the primary key and the unique stripe_id (its dedup).
        indexes = [
            # Expired claims (processing, by lease end) and the failed/dead counts and replays.
            models.Index(
                fields=["status", "next_attempt_at"],
                name="events_unsettled_idx",
                condition=models.Q(status__in=["processing", "failed", "dead"]),
            ),
            # The drain's work queue: only pending rows, in arrival order (small, hot index).
            models.Index(
                fields=["id"],
                name="events_pending_idx",
                condition=models.Q(status__in=["received", "failed"]),
            ),
        ]
        ordering = ["-created", "-id"]

    def __str__(self) -> str:
        return f"{self.stripe_id} {self.type}"

    @property
    def data_object(self) -> dict[str, Any]:
        """``data.object`` of the event: the Stripe object as it was when the event was created."""
        data = self.payload.get("data") or {}
        obj = data.get("object") or {}
        return dict(obj)


class WebhookEndpoint(models.Model):
    """A webhook endpoint we registered with Stripe ourselves (sandbox mode) and its signing secret.

    In sandbox mode ``webhook_endpoints_ensure_sandbox()`` registers our two endpoints with the
    sandbox and keeps the generated secrets here, so intake can verify the sandbox's deliveries.
    With real Stripe the secrets come from settings (``STRIPE_WEBHOOK_SECRET`` ...) instead.
    """

    class Kind(models.TextChoices):
        PLATFORM = "platform", "Platform endpoint"
        CONNECT = "connect", "Connect endpoint"

    kind = models.CharField(max_length=16, choices=Kind.choices)
    url = models.URLField(max_length=500)
    stripe_id = models.CharField(max_length=255, unique=True)
    secret = models.CharField(max_length=255)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["kind", "url"], name="events_endpoint_kind_url_uniq")
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.url} ({self.stripe_id})"
