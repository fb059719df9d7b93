"""Tables of the sandbox: the fake Stripe's own state, shared by web and worker processes.

Every API-visible object (accounts, events, webhook endpoints, and whatever the resource modules
add) is one ``SandboxObject`` row holding the object's JSON exactly as Stripe returns it, plus a
``private`` JSON for state Stripe keeps but never returns (an endpoint's secret, a test card
number, whether an account link was used ...). Timestamps named ``created``/``*_at`` that are
integers are Unix seconds on the sandbox clock (``sandbox.clock``); ``DateTimeField``s are real time.
"""

from __future__ import annotations

import threading
import time

from django.db import models

_seq_lock = threading.Lock()
_last_seq = 0


def next_seq() -> int:
    """A creation-order number (nanoseconds, strictly increasing in this process) that breaks
    ties between objects created in the same second, so lists keep creation order."""
    global _last_seq
    with _seq_lock:
        _last_seq = max(_last_seq + 1, time.time_ns())
        return _last_seq


class SandboxObject(models.Model):
    """One Stripe object (``acct_…``, ``evt_…``, ``we_…`` …) as the API returns it."""

    id = models.CharField(primary_key=True, max_length=255)
    # Stripe's ``object`` field: "account", "event", "webhook_endpoint" ...
    object = models.CharField(max_length=64, db_index=True)
    # The connected account owning the object ("" for the platform).
    account = models.CharField(max_length=255, blank=True, default="", db_index=True)
    # Unix seconds on the sandbox clock.
    created = models.BigIntegerField(db_index=True)
    seq = models.BigIntegerField(default=next_seq, db_index=True)
    data = models.JSONField(default=dict)
    private = models.JSONField(default=dict, blank=True)
    # Set to True when the object is deleted through the API (kept for events and lookups).
    deleted = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["object", "account", "created"])]

    def __str__(self) -> str:
        return self.id


class IdempotencyRecord(models.Model):
    """The stored outcome of a POST sent with an ``Idempotency-Key`` (per account and key)."""

    account = models.CharField(max_length=255, blank=True, default="")
    key = models.CharField(max_length=255)
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=500)
    fingerprint = models.CharField(max_length=64)
    status = models.PositiveSmallIntegerField()
    body = models.TextField()
    request_id = models.CharField(max_length=64)
    # Unix seconds on the sandbox clock: keys expire after 24 hours, as on Stripe.
    created = models.BigIntegerField(default=0, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "key"], name="sandbox_idempotency_unique")
        ]

    def __str__(self) -> str:
        return f"{self.account or 'platform'}:{self.key}"


class Delivery(models.Model):
    """One event to one webhook endpoint: attempts, next attempt and the last answer."""

    class Status(models.TextChoices):
        PENDING = "pending"
        SUCCEEDED = "succeeded"
        FAILED = "failed"  # gave up after the retry window

    event_id = models.CharField(max_length=255, db_index=True)
    endpoint_id = models.CharField(max_length=255, db_index=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    # Unix seconds on the sandbox clock; None while a manual-mode delivery waits to be released.
    next_attempt_at = models.BigIntegerField(null=True, blank=True, db_index=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_response = models.TextField(blank=True, default="")
    last_error = models.TextField(blank=True, default="")
    last_attempt_at = models.BigIntegerField(null=True, blank=True)
    # [{"at": unix, "status": int|None, "response": str, "error": str}, ...]
    history = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        verbose_name_plural = "deliveries"

    def __str__(self) -> str:
        return f"{self.event_id} -> {self.endpoint_id} ({self.status})"


class Clock(models.Model):
    """The sandbox clock: real time plus ``offset_seconds`` (one row, pk=1)."""

    offset_seconds = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"clock +{self.offset_seconds}s"


class Fault(models.Model):
    """An injected failure for the next ``remaining`` matching requests."""

    class Kind(models.TextChoices):
        ERROR_500 = "500", "HTTP 500 api_error"
        RATE_LIMIT_429 = "429", "HTTP 429 rate_limit"
        TIMEOUT = "timeout", "Connection timeout (before the request runs)"
        TIMEOUT_AFTER = "timeout_after", "Connection timeout (after the request ran and committed)"
        LATENCY = "latency", "Added latency only"

    kind = models.CharField(max_length=16, choices=Kind.choices)
    remaining = models.PositiveIntegerField(default=1)
    latency_ms = models.PositiveIntegerField(default=0)
    # Empty = any method / any path; otherwise the request must match.
    method = models.CharField(max_length=10, blank=True, default="")
    path_prefix = models.CharField(max_length=255, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.kind} x{self.remaining}"


class RequestLog(models.Model):
    """Every request the sandbox API received (retries included), newest last."""

    request_id = models.CharField(max_length=64, db_index=True)
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=500)
    account = models.CharField(max_length=255, blank=True, default="")
    idempotency_key = models.CharField(max_length=255, blank=True, default="")
    status = models.PositiveSmallIntegerField(null=True, blank=True)
    replayed = models.BooleanField(default=False)
    fault = models.CharField(max_length=16, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.method} {self.path} -> {self.status}"


# Payments resources (balance transactions): kept in their own module.
from sandbox.ledger_models import BalanceEntry  # noqa: E402, F401
