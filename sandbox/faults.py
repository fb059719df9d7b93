"""Fault injection: make the next N matching requests fail or slow down.

Kinds (``Fault.Kind``): ``"500"`` (api_error, before the request runs), ``"429"`` (rate limit),
``"timeout"`` (the in-process client raises the SDK's ``APIConnectionError`` before the request
runs), ``"timeout_after"`` (the request runs and commits, then the client raises: the SDK's
retry with the same Idempotency-Key must get the stored answer, not a second object),
``"latency"`` (only ``latency_ms``). Any fault may add ``latency_ms``.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from sandbox.models import Fault


@dataclass(frozen=True)
class Triggered:
    kind: str
    latency_ms: int


def inject(
    kind: str,
    *,
    count: int = 1,
    latency_ms: int = 0,
    method: str = "",
    path_prefix: str = "",
) -> Fault:
    """Make the next ``count`` requests matching ``method``/``path_prefix`` (e.g. "/v1/accounts")
    fail with ``kind``."""
    if kind not in Fault.Kind.values:
        raise ValueError(f"unknown fault kind {kind!r}; one of {Fault.Kind.values}")
    if count < 1:
        raise ValueError("count must be at least 1")
    return Fault.objects.create(
        kind=kind,
        remaining=count,
        latency_ms=latency_ms,
        method=method.upper(),
        path_prefix=path_prefix,
    )


def clear() -> None:
    Fault.objects.all().delete()


def consume(method: str, path: str) -> Triggered | None:
    """Take one use of the oldest fault matching this request (committed on its own)."""
    with transaction.atomic():
        for fault in Fault.objects.select_for_update().order_by("id"):
            if fault.method and fault.method != method.upper():
                continue
            if fault.path_prefix and not path.startswith(fault.path_prefix):
                continue
            triggered = Triggered(fault.kind, fault.latency_ms)
            if fault.remaining <= 1:
                fault.delete()
            else:
                fault.remaining -= 1
                fault.save(update_fields=["remaining"])
            return triggered
    return None
