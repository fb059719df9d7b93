"""Fault injection: make the next N matching requests fail or slow down.

Kinds (``Fault.Kind``): ``"500"`` (api_error, before the request runs), ``"429"`` (rate limit),
``"timeout"`` (the in-process client raises the SDK's ``APIConnectionError`` before the request
runs), ``"timeout_after"`` (the request runs and commits, then the client raises: the SDK's
retry with the same Idempotency-Key must get the stored answer, not a second object),
``"latency"`` (only ``latency_ms``). Any fault may add ``latency_ms``.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.cache import cache

from sandbox.models import Fault

# The uses left of each fault live in the cache (Redis in production, one process's memory
# otherwise): ``cache.decr`` is atomic, so taking a use locks no database row. The sandbox runs
# inside the caller's transaction (a Celery worker's batch that also locks seller rows); a
# ``SELECT ... FOR UPDATE`` on the fault row there was held until that batch committed and made
# workers deadlock on each other. The row is only the fault's definition (and its starting count).
_KEY = "sandbox:fault:{}:left"
_KEY_TIMEOUT = 7 * 24 * 3600  # seconds; a fault left that long is stale anyway


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
    fault = Fault.objects.create(
        kind=kind,
        remaining=count,
        latency_ms=latency_ms,
        method=method.upper(),
        path_prefix=path_prefix,
    )
    cache.set(_KEY.format(fault.pk), count, _KEY_TIMEOUT)  # overrides a stale counter of that id
    return fault


def clear() -> None:
    ids = list(Fault.objects.values_list("id", flat=True))
    Fault.objects.all().delete()
    cache.delete_many([_KEY.format(i) for i in ids])


def remaining(fault: Fault) -> int:
    """Uses left (the row's ``remaining`` until the first use)."""
    left = cache.get(_KEY.format(fault.pk))
    return fault.remaining if left is None else max(0, int(left))


def _take(fault: Fault) -> bool:
    """Take one use atomically; False if none was left."""
    key = _KEY.format(fault.pk)
    for _ in range(2):
        cache.add(key, fault.remaining, _KEY_TIMEOUT)  # first use since inject/a cache restart
        try:
            return int(cache.decr(key)) >= 0
        except ValueError:  # evicted between add and decr
            continue
    return False


def consume(method: str, path: str) -> Triggered | None:
    """Take one use of the oldest fault matching this request, holding no database lock.

    A plain read of the fault rows (never blocks) and an atomic cache decrement. The request that
    takes the last use deletes the row; only it ever touches that row, so its lock (held until the
    caller's transaction ends) is awaited by nobody.
    """
    for fault in Fault.objects.order_by("id"):
        if fault.method and fault.method != method.upper():
            continue
        if fault.path_prefix and not path.startswith(fault.path_prefix):
            continue
        if not _take(fault):
            continue  # used up by a concurrent request
        if remaining(fault) == 0:
            Fault.objects.filter(pk=fault.pk).delete()
        return Triggered(fault.kind, fault.latency_ms)
    return None
