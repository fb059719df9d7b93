"""The built-in panels and actions of the control page (see ``sandbox.panels``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.db import transaction
from django.http import HttpRequest

from sandbox import clock, delivery, faults, store
from sandbox.models import Delivery, Fault, RequestLog, SandboxObject
from sandbox.panels import register_action, register_control_panel, register_dashboard_panel
from sandbox.resources import accounts
from sandbox.resources.webhook_endpoints import endpoint_create

JSON = dict[str, Any]


def _accounts(request: HttpRequest) -> JSON:
    rows = SandboxObject.objects.filter(object="account").order_by("-created", "-seq")[:50]
    return {
        "accounts": [
            {
                **row.data,
                "deauthorized": bool(row.private.get("deauthorized")),
                "is_deleted": row.deleted,
            }
            for row in rows
        ]
    }


def _events(request: HttpRequest) -> JSON:
    rows = list(SandboxObject.objects.filter(object="event").order_by("-created", "-seq")[:30])
    by_event: dict[str, list[Delivery]] = {}
    for item in Delivery.objects.filter(event_id__in=[r.id for r in rows]).order_by("id"):
        by_event.setdefault(item.event_id, []).append(item)
    return {
        "events": [
            {
                "id": row.id,
                "type": row.data.get("type"),
                "account": row.data.get("account"),
                "object_id": (row.data.get("data") or {}).get("object", {}).get("id"),
                "created": row.created,
                "deliveries": by_event.get(row.id, []),
            }
            for row in rows
        ]
    }


def _endpoints(request: HttpRequest) -> JSON:
    rows = store.queryset("webhook_endpoint", account="").order_by("-created", "-seq")
    return {
        "endpoints": [{**row.data, "connect": bool(row.private.get("connect"))} for row in rows]
    }


def _clock(request: HttpRequest) -> JSON:
    now = clock.now()
    return {
        "now": now,
        "now_dt": datetime.fromtimestamp(now, tz=UTC),
        "offset": clock.offset(),
        "jobs": clock.registered_jobs(),
    }


def _live_faults() -> list[Fault]:
    """Faults with uses left, ``remaining`` as counted now (faults.remaining)."""
    live = []
    for fault in Fault.objects.order_by("id"):
        fault.remaining = faults.remaining(fault)
        if fault.remaining:
            live.append(fault)
    return live


def _faults(request: HttpRequest) -> JSON:
    return {
        "faults": _live_faults(),
        "kinds": Fault.Kind.choices,
        "requests": list(RequestLog.objects.order_by("-id")[:15]),
    }


register_control_panel("clock", "Clock", "sandbox/panels/clock.html", _clock, order=10)
register_control_panel(
    "accounts", "Connected accounts", "sandbox/panels/accounts.html", _accounts, order=20
)
register_control_panel(
    "events", "Recent events and deliveries", "sandbox/panels/events.html", _events, order=50
)
register_control_panel(
    "endpoints", "Webhook endpoints", "sandbox/panels/endpoints.html", _endpoints, order=60
)
register_control_panel(
    "faults", "Fault injection and recent requests", "sandbox/panels/faults.html", _faults, order=70
)


def _payouts(account_id: str) -> JSON:
    rows = store.queryset("payout", account=account_id).order_by("-created", "-seq")[:20]
    return {"payouts": [row.data for row in rows]}


register_dashboard_panel("payouts", "Payouts", "sandbox/dashboard/payouts.html", _payouts, order=50)


def _int(request: HttpRequest, name: str, default: int | None = None) -> int:
    raw = request.POST.get(name, "")
    if raw == "" and default is not None:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"{name} must be a whole number") from None


def advance_clock(request: HttpRequest) -> str:
    seconds = _int(request, "seconds")
    if seconds <= 0 or seconds > 366 * 86400:
        raise ValueError("Advance by 1 second to 366 days.")
    clock.advance(seconds)
    return f"Clock advanced by {seconds} s; due jobs and deliveries ran."


def run_due(request: HttpRequest) -> str:
    clock.run_due()
    return "Due jobs and deliveries ran."


def inject_fault(request: HttpRequest) -> str:
    kind = request.POST.get("kind", "")
    count = _int(request, "count", 1)
    latency = _int(request, "latency_ms", 0)
    if not 1 <= count <= 100:
        raise ValueError("Count must be between 1 and 100.")
    if not 0 <= latency <= 30000:
        raise ValueError("Latency must be between 0 and 30000 ms.")
    faults.inject(
        kind,
        count=count,
        latency_ms=latency,
        path_prefix=request.POST.get("path_prefix", "").strip(),
    )
    return f"The next {count} request(s) will get: {kind}."


def clear_faults(request: HttpRequest) -> str:
    faults.clear()
    return "Faults cleared."


def resend_event(request: HttpRequest) -> str:
    event_id = request.POST.get("event", "")
    if not SandboxObject.objects.filter(pk=event_id, object="event").exists():
        raise ValueError("No such event.")
    results = delivery.resend(event_id, request.POST.get("endpoint") or None)
    if not results:
        return f"{event_id} has no endpoint to go to."
    codes = ", ".join(str(d.last_status_code or d.last_error[:40]) for d in results)
    return f"{event_id} resent: {codes}."


def deauthorize(request: HttpRequest) -> str:
    account_id = request.POST.get("account", "")
    with transaction.atomic():
        try:
            accounts.deauthorize(account_id)
        except Exception as exc:
            raise ValueError(f"Cannot disconnect {account_id}: {exc}") from exc
    return f"{account_id} disconnected the platform (account.application.deauthorized sent)."


def create_endpoint(request: HttpRequest) -> str:
    url = request.POST.get("url", "").strip()
    events = [e.strip() for e in request.POST.get("enabled_events", "*").split(",") if e.strip()]
    connect = request.POST.get("connect") == "on"
    try:
        with transaction.atomic():
            endpoint = endpoint_create(url=url, enabled_events=events or ["*"], connect=connect)
    except Exception as exc:
        raise ValueError(getattr(exc, "message", str(exc))) from exc
    return f"Endpoint {endpoint['id']} created; its signing secret is {endpoint['secret']}"


def delete_endpoint(request: HttpRequest) -> str:
    endpoint_id = request.POST.get("endpoint", "")
    try:
        store.mark_deleted(endpoint_id, object_type="webhook_endpoint", account="")
    except Exception as exc:
        raise ValueError(f"No such endpoint {endpoint_id}") from exc
    return f"Endpoint {endpoint_id} deleted."


for _name, _handler in {
    "advance_clock": advance_clock,
    "run_due": run_due,
    "inject_fault": inject_fault,
    "clear_faults": clear_faults,
    "resend_event": resend_event,
    "deauthorize": deauthorize,
    "create_endpoint": create_endpoint,
    "delete_endpoint": delete_endpoint,
}.items():
    register_action(_name, _handler)
