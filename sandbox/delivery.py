"""Webhook delivery: signed POSTs of events to endpoints, after commit, retried with backoff.

Mode (setting ``SANDBOX_WEBHOOK_DELIVERY``):
- ``"thread"`` (default): after the transaction that emitted the events commits, a background
  thread delivers them (the API call never waits for an endpoint).
- ``"inline"``: synchronously right after commit, in the committing thread (deterministic tests).
- ``"manual"``: queued until ``deliver_pending()`` (``sandbox.testing``) releases them.

Transport: endpoints on this site (the host and port of ``SITE_URL``, loopback names being one
host; the test client's ``testserver``) are called in-process through Django's handler; any other
host or port (another program, e.g. ``manage.py sandbox_listen --forward-to``) by HTTP POST
(``SANDBOX_WEBHOOK_TIMEOUT`` seconds). A non-2xx answer or an exception schedules a retry on the sandbox clock
(``RETRY_DELAYS``); after ``GIVE_UP_AFTER`` seconds the delivery is marked failed, as Stripe
gives up after three days.
"""

from __future__ import annotations

import atexit
import hashlib
import hmac
import json
import logging
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db import close_old_connections, transaction
from django.db.models import Q

from sandbox import clock
from sandbox.models import Delivery, SandboxObject

logger = logging.getLogger(__name__)

# Seconds between attempt n and n+1 (the last value repeats).
RETRY_DELAYS = [60, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600]
GIVE_UP_AFTER = 3 * 24 * 3600
# While one worker posts, others leave the delivery alone for this long.
CLAIM_SECONDS = 120


def mode() -> str:
    value = getattr(settings, "SANDBOX_WEBHOOK_DELIVERY", "thread") or "thread"
    if value not in {"thread", "inline", "manual"}:
        raise ValueError(
            f"SANDBOX_WEBHOOK_DELIVERY must be thread, inline or manual, not {value!r}"
        )
    return value


def sign(payload: str, secret: str, timestamp: int | None = None) -> str:
    """The ``Stripe-Signature`` header Stripe sends: ``t=<ts>,v1=<hex hmac-sha256>``.

    The timestamp is real time (not the sandbox clock): receivers check it against their own
    clock with a tolerance."""
    ts = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{ts}.{payload}".encode(), hashlib.sha256).hexdigest()
    return f"t={ts},v1={mac}"


def queue(deliveries: list[Delivery]) -> None:
    """Store new deliveries (called by ``events.emit``) and schedule them after commit."""
    manual = mode() == "manual"
    now = clock.now()
    for item in deliveries:
        item.next_attempt_at = None if manual else now
    created = Delivery.objects.bulk_create(deliveries)
    if manual:
        return
    ids = [item.pk for item in created if item.pk is not None]
    if not ids:  # backends without RETURNING ids
        ids = list(
            Delivery.objects.filter(
                event_id__in=[d.event_id for d in deliveries], attempts=0
            ).values_list("pk", flat=True)
        )
    transaction.on_commit(lambda: _kick(ids))


def _kick(ids: list[int]) -> None:
    if mode() == "inline":
        for pk in ids:
            attempt(pk)
        return
    thread = threading.Thread(target=_deliver_in_thread, args=(ids,), daemon=True)
    _threads.add(thread)
    thread.start()


_threads: set[threading.Thread] = set()


@atexit.register
def _finish_deliveries(timeout: float = 5.0) -> None:
    """At interpreter exit (a management command, a test run), give in-flight background
    deliveries a few seconds to finish instead of killing them mid-POST."""
    deadline = time.monotonic() + timeout
    for thread in list(_threads):
        thread.join(max(0.0, deadline - time.monotonic()))


def _deliver_in_thread(ids: list[int]) -> None:
    close_old_connections()
    try:
        for pk in ids:
            try:
                attempt(pk)
            except Exception:
                logger.exception("sandbox webhook delivery %s failed", pk)
    finally:
        close_old_connections()
        from django.db import connection

        connection.close()
        _threads.discard(threading.current_thread())


# Opportunistic due work in "thread" mode: after an API request commits, at most every
# TICK_SECONDS per process, a background thread runs the clock's due jobs and retries, so a
# running site retries deliveries and moves balances without anyone pressing a button.
TICK_SECONDS = 30.0
_tick_lock = threading.Lock()
_last_tick = 0.0


def maybe_tick() -> None:
    global _last_tick
    if mode() != "thread":
        return
    with _tick_lock:
        now = time.monotonic()
        if now - _last_tick < TICK_SECONDS:
            return
        _last_tick = now
    threading.Thread(target=_tick_in_thread, daemon=True).start()


def _tick_in_thread() -> None:
    from django.db import connection

    close_old_connections()
    try:
        clock.run_due()
    except Exception:
        logger.exception("sandbox background tick failed")
    finally:
        connection.close()


def _claim(pk: int, *, force: bool) -> tuple[Delivery, dict[str, Any], SandboxObject] | None:
    """Lock the delivery, check it is due, count the attempt and lease it; commit."""
    with transaction.atomic():
        item = Delivery.objects.select_for_update().filter(pk=pk).first()
        if item is None:
            return None
        now = clock.now()
        if not force:
            if item.status != Delivery.Status.PENDING:
                return None
            if item.next_attempt_at is None or item.next_attempt_at > now:
                return None
        event = SandboxObject.objects.filter(pk=item.event_id).first()
        endpoint = SandboxObject.objects.filter(pk=item.endpoint_id).first()
        if event is None or endpoint is None or endpoint.deleted:
            item.status = Delivery.Status.FAILED
            item.next_attempt_at = None
            item.last_error = "endpoint deleted" if endpoint is not None else "endpoint missing"
            item.save()
            return None
        item.attempts += 1
        item.last_attempt_at = now
        item.next_attempt_at = now + CLAIM_SECONDS
        item.save(update_fields=["attempts", "last_attempt_at", "next_attempt_at"])
        return item, event.data, endpoint


def attempt(pk: int, *, force: bool = False) -> Delivery | None:
    """Post the delivery's event to its endpoint once, if due (or anyway with ``force``);
    record the answer and schedule the next attempt. Returns the updated delivery."""
    claimed = _claim(pk, force=force)
    if claimed is None:
        return Delivery.objects.filter(pk=pk).first()
    item, event, endpoint = claimed
    if endpoint.data.get("api_version"):
        # An endpoint created with an api_version receives events in that version.
        event = {**event, "api_version": endpoint.data["api_version"]}
    payload = json.dumps(event, indent=2)
    header = sign(payload, str(endpoint.private.get("secret", "")))
    status_code: int | None = None
    response = ""
    error = ""
    try:
        status_code, response = post(str(endpoint.data.get("url", "")), payload, header)
    except Exception as exc:  # network errors, or an in-process view crashing
        error = f"{type(exc).__name__}: {exc}"
    ok = status_code is not None and 200 <= status_code < 300
    with transaction.atomic():
        item = Delivery.objects.select_for_update().get(pk=pk)
        now = clock.now()
        item.last_status_code = status_code
        item.last_response = response[:2000]
        item.last_error = error[:2000]
        item.history = [
            *item.history,
            {"at": now, "status": status_code, "response": response[:300], "error": error[:300]},
        ][-50:]
        was_pending = item.status == Delivery.Status.PENDING
        if ok:
            item.status = Delivery.Status.SUCCEEDED
            item.next_attempt_at = None
            if was_pending:
                _decrement_pending(item.event_id)
        elif item.status != Delivery.Status.SUCCEEDED:
            if now - int(event.get("created") or now) >= GIVE_UP_AFTER:
                item.status = Delivery.Status.FAILED
                item.next_attempt_at = None
                if was_pending:
                    _decrement_pending(item.event_id)
            else:
                delay = RETRY_DELAYS[min(item.attempts, len(RETRY_DELAYS)) - 1]
                item.status = Delivery.Status.PENDING
                item.next_attempt_at = (item.last_attempt_at or now) + delay
        item.save()
    return item


def _decrement_pending(event_id: str) -> None:
    row = SandboxObject.objects.select_for_update().filter(pk=event_id).first()
    if row is None:
        return
    row.data["pending_webhooks"] = max(0, int(row.data.get("pending_webhooks") or 0) - 1)
    row.save(update_fields=["data", "updated_at"])


LOOPBACK = {"localhost", "127.0.0.1", "[::1]", "::1"}


def _host_port(url: str) -> tuple[str, int | None]:
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if host in LOOPBACK:
        host = "loopback"
    try:
        port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    except ValueError:
        port = None
    return host, port


def is_local(url: str) -> bool:
    """True for an endpoint on this site (same host and port as ``SITE_URL``, the loopback
    names counting as one host; or the test client's ``testserver``): it is called in-process.
    Any other host or port is another program, posted to over HTTP."""
    host, port = _host_port(url)
    if host == "testserver":
        return True
    site = str(getattr(settings, "SITE_URL", "") or "")
    return bool(site) and (host, port) == _host_port(site)


def post(url: str, payload: str, signature: str) -> tuple[int, str]:
    """POST ``payload`` to ``url`` with the signature header; returns (status, body)."""
    if is_local(url):
        return _post_in_process(url, payload, signature)
    timeout = float(getattr(settings, "SANDBOX_WEBHOOK_TIMEOUT", 5))
    request = urllib.request.Request(  # noqa: S310 - the tester configured this URL
        url,
        data=payload.encode(),
        method="POST",
        headers={
            "Content-Type": "application/json; charset=utf-8",
            "Stripe-Signature": signature,
            "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks) sandbox",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310
            return int(answer.status), answer.read(4000).decode(errors="replace")
    except urllib.error.HTTPError as exc:
        return int(exc.code), exc.read(4000).decode(errors="replace")


_clients = threading.local()


def _client(host: str) -> Any:
    """This thread's test client for ``host``, kept: a new one loads the middleware again
    (WhiteNoise scans every static file when it starts), over a second per delivery."""
    from django.test import Client

    cache = getattr(_clients, "by_host", None)
    if cache is None:
        cache = _clients.by_host = {}
    key = (host, tuple(settings.MIDDLEWARE))  # a test changing the middleware gets a new one
    client = cache.get(key)
    if client is None:
        client = cache[key] = Client(raise_request_exception=False, HTTP_HOST=host)
    client.cookies.clear()  # each delivery stands alone, as Stripe's do
    return client


def _post_in_process(url: str, payload: str, signature: str) -> tuple[int, str]:
    parts = urlsplit(url)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    host = parts.hostname or "localhost"
    if parts.port:
        host = f"{host}:{parts.port}"
    answer = _client(host).post(
        path,
        data=payload,
        content_type="application/json",
        secure=parts.scheme == "https",
        HTTP_STRIPE_SIGNATURE=signature,
        HTTP_USER_AGENT="Stripe/1.0 (+https://stripe.com/docs/webhooks) sandbox",
    )
    body = answer.content.decode(errors="replace") if not answer.streaming else ""
    return int(answer.status_code), body[:4000]


def due_ids(*, include_manual: bool = False) -> list[int]:
    now = clock.now()
    condition = Q(next_attempt_at__lte=now)
    if include_manual:
        condition |= Q(next_attempt_at__isnull=True)
    return list(
        Delivery.objects.filter(condition, status=Delivery.Status.PENDING)
        .order_by("id")
        .values_list("pk", flat=True)
    )


def deliver_due() -> int:
    """Attempt every pending delivery whose time has come (not manual-mode queued ones)."""
    count = 0
    for pk in due_ids():
        attempt(pk)
        count += 1
    return count


def release(ids: Iterable[int]) -> None:
    """Make queued (manual-mode) deliveries due now."""
    Delivery.objects.filter(pk__in=list(ids), next_attempt_at__isnull=True).update(
        next_attempt_at=clock.now()
    )


def resend(event_id: str, endpoint_id: str | None = None) -> list[Delivery]:
    """Send an event again now (the control page's resend button, and duplicate-delivery tests):
    to ``endpoint_id``, or to every endpoint it was delivered to. Records a new attempt."""
    qs = Delivery.objects.filter(event_id=event_id)
    if endpoint_id:
        qs = qs.filter(endpoint_id=endpoint_id)
        if not qs.exists():
            Delivery.objects.create(
                event_id=event_id, endpoint_id=endpoint_id, next_attempt_at=None
            )
            qs = Delivery.objects.filter(event_id=event_id, endpoint_id=endpoint_id)
    results = []
    for pk in list(qs.values_list("pk", flat=True)):
        item = attempt(pk, force=True)
        if item is not None:
            results.append(item)
    return results
