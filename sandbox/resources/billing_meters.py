"""Billing Meters: ``/v1/billing/meters`` (create, list, retrieve, update, deactivate,
reactivate, event summaries), ``/v1/billing/meter_events`` and
``/v1/billing/meter_event_adjustments`` (``type=cancel`` by identifier).

A meter names an ``event_name`` (unique among the account's active meters), how its events are
aggregated (``default_aggregation.formula``: ``sum``, ``count`` or ``last``), where the customer
id and the value sit in an event's payload (``customer_mapping.event_payload_key``, default
``stripe_customer_id``; ``value_settings.event_payload_key``, default ``value``). A metered
price (``recurring.usage_type=metered``, ``recurring.meter``) bills the aggregated usage of its
customer over the period that ended, on the renewal invoice.

Stripe validates meter events asynchronously (errors arrive later as
``v1.billing.meter.error_report_triggered``); the sandbox checks them at once and answers 400,
so a test sees the mistake where it made it: unknown or inactive ``event_name``, payload
without the customer key or the value, a value that is not a whole number >= 0 (the sandbox
takes integer usage), a ``timestamp`` older than 35 days or more than 5 minutes ahead, and an
``identifier`` already used in the last 24 hours (Stripe's uniqueness window), which is refused
with ``resource_already_exists`` and counted once. An adjustment cancels an event by its
identifier within 24 hours of the event; the canceled usage leaves every later invoice.
"""

from __future__ import annotations

from typing import Any

from stripe.params.billing import (
    MeterCreateParams,
    MeterDeactivateParams,
    MeterEventAdjustmentCreateParams,
    MeterEventCreateParams,
    MeterListEventSummariesParams,
    MeterListParams,
    MeterReactivateParams,
    MeterRetrieveParams,
    MeterUpdateParams,
)

from sandbox import clock, store
from sandbox.errors import invalid_request
from sandbox.ids import new_id, random_token
from sandbox.models import SandboxObject
from sandbox.router import Request, route

JSON = dict[str, Any]
DAY = 86400
PAST_WINDOW = 35 * DAY
FUTURE_WINDOW = 300
IDENTIFIER_WINDOW = DAY


def meter_row(meter_id: str, *, account: str | None = "", param: str = "id") -> SandboxObject:
    return store.get_row(
        meter_id, object_type="billing.meter", account=account, name="billing.meter", param=param
    )


def active_meter_for(event_name: str, account: str) -> SandboxObject | None:
    return (
        store.queryset("billing.meter", account=account)
        .filter(data__event_name=event_name, data__status="active")
        .first()
    )


def usage_for(meter_id: str | None, customer: str, *, start: int, end: int) -> int:
    """The meter's aggregated usage of ``customer`` for events timestamped in [start, end)."""
    if not meter_id:
        return 0
    row = SandboxObject.objects.filter(pk=meter_id, object="billing.meter").first()
    if row is None:
        return 0
    events = (
        SandboxObject.objects.filter(object="sandbox.meter_event", account=row.account)
        .filter(data__meter=meter_id, data__customer=customer, data__canceled=False)
        .filter(data__timestamp__gte=start, data__timestamp__lt=end)
        .order_by("data__timestamp", "seq")
    )
    values = [int(e.data["value"]) for e in events]
    formula = row.data["default_aggregation"]["formula"]
    if formula == "count":
        return len(values)
    if formula == "last":
        return values[-1] if values else 0
    return sum(values)


# --- meters ------------------------------------------------------------------------------------
@route("POST", "/v1/billing/meters", params=MeterCreateParams)
def create(req: Request) -> JSON:
    p = req.params
    event_name = str(p["event_name"]).strip()
    if not event_name or len(event_name) > 100:
        raise invalid_request(
            "event_name must be between 1 and 100 characters.", param="event_name"
        )
    if active_meter_for(event_name, req.account) is not None:
        raise invalid_request(
            f"An active meter with event_name '{event_name}' already exists. Meter event names "
            "must be unique among active meters.",
            param="event_name",
            code="resource_already_exists",
        )
    formula = p["default_aggregation"].get("formula")
    if formula not in ("sum", "count", "last"):
        raise invalid_request(
            "Invalid default_aggregation[formula]: must be one of sum, count or last",
            param="default_aggregation[formula]",
        )
    mapping = dict(p.get("customer_mapping") or {})
    value_settings = dict(p.get("value_settings") or {})
    now = clock.now()
    return store.create(
        "mtr",
        "billing.meter",
        {
            "customer_mapping": {
                "event_payload_key": mapping.get("event_payload_key") or "stripe_customer_id",
                "type": mapping.get("type") or "by_id",
            },
            "default_aggregation": {"formula": formula},
            "display_name": p["display_name"],
            "event_name": event_name,
            "event_time_window": p.get("event_time_window"),
            "livemode": False,
            "status": "active",
            "status_transitions": {"deactivated_at": None},
            "updated": now,
            "value_settings": {
                "event_payload_key": value_settings.get("event_payload_key") or "value"
            },
        },
        account=req.account,
    )


@route("GET", "/v1/billing/meters", params=MeterListParams)
def list_(req: Request) -> JSON:
    qs = store.queryset("billing.meter", account=req.account)
    if req.params.get("status"):
        qs = qs.filter(data__status=req.params["status"])
    return store.list_response(qs, req.params, url="/v1/billing/meters")


@route("GET", "/v1/billing/meters/{id}", params=MeterRetrieveParams)
def retrieve(req: Request) -> JSON:
    return dict(meter_row(req.args["id"], account=req.account).data)


@route("POST", "/v1/billing/meters/{id}", params=MeterUpdateParams)
def update(req: Request) -> JSON:
    meter_row(req.args["id"], account=req.account)
    changes = {k: req.params[k] for k in ("display_name",) if k in req.params}
    if changes:
        changes["updated"] = clock.now()
    meter, _ = store.update(
        req.args["id"], changes, object_type="billing.meter", account=req.account
    )
    return meter


def _set_status(req: Request, status: str) -> JSON:
    row = meter_row(req.args["id"], account=req.account)
    meter = row.data
    if meter["status"] == status:
        raise invalid_request(f"This meter is already {status}.", param="id")
    if status == "active" and active_meter_for(meter["event_name"], req.account) is not None:
        raise invalid_request(
            f"An active meter with event_name '{meter['event_name']}' already exists.",
            code="resource_already_exists",
        )
    now = clock.now()
    transitions = {"deactivated_at": now if status == "inactive" else None}
    meter, _ = store.update(
        row.id,
        {"status": status, "status_transitions": transitions, "updated": now},
        object_type="billing.meter",
    )
    return meter


@route("POST", "/v1/billing/meters/{id}/deactivate", params=MeterDeactivateParams)
def deactivate(req: Request) -> JSON:
    return _set_status(req, "inactive")


@route("POST", "/v1/billing/meters/{id}/reactivate", params=MeterReactivateParams)
def reactivate(req: Request) -> JSON:
    return _set_status(req, "active")


@route("GET", "/v1/billing/meters/{id}/event_summaries", params=MeterListEventSummariesParams)
def event_summaries(req: Request) -> JSON:
    p = req.params
    meter = meter_row(req.args["id"], account=req.account).data
    start, end = int(p["start_time"]), int(p["end_time"])
    if end <= start:
        raise invalid_request("end_time must be after start_time.", param="end_time")
    value = usage_for(meter["id"], str(p["customer"]), start=start, end=end)
    summary = {
        "id": f"mtrusg_{random_token(24)}",
        "object": "billing.meter_event_summary",
        "aggregated_value": float(value),
        "end_time": end,
        "livemode": False,
        "meter": meter["id"],
        "start_time": start,
    }
    return store.list_of([summary], url=f"/v1/billing/meters/{meter['id']}/event_summaries")


# --- events and adjustments ----------------------------------------------------------------------
@route("POST", "/v1/billing/meter_events", params=MeterEventCreateParams)
def event_create(req: Request) -> JSON:
    p = req.params
    now = clock.now()
    event_name = str(p["event_name"])
    meter = active_meter_for(event_name, req.account)
    if meter is None:
        raise invalid_request(
            f"No active meter was found for event_name '{event_name}'.",
            param="event_name",
            code="resource_missing",
        )
    payload = {str(k): str(v) for k, v in dict(p["payload"]).items()}
    customer_key = meter.data["customer_mapping"]["event_payload_key"]
    value_key = meter.data["value_settings"]["event_payload_key"]
    customer = payload.get(customer_key)
    if not customer:
        raise invalid_request(
            f"Customer mapping key {customer_key} not found in payload.",
            param=f"payload[{customer_key}]",
            code="parameter_missing",
        )
    if not SandboxObject.objects.filter(
        pk=customer, object="customer", account=req.account, deleted=False
    ).exists():
        raise invalid_request(
            f"No such customer: '{customer}'",
            param=f"payload[{customer_key}]",
            code="resource_missing",
        )
    formula = meter.data["default_aggregation"]["formula"]
    raw_value = payload.get(value_key)
    if raw_value is None and formula != "count":
        raise invalid_request(
            f"Value key {value_key} not found in payload.",
            param=f"payload[{value_key}]",
            code="parameter_missing",
        )
    raw_value = raw_value if raw_value is not None else "1"
    if not raw_value.isdigit():
        raise invalid_request(
            f"Invalid payload[{value_key}]: the sandbox takes usage as a whole number >= 0 "
            f"(got '{raw_value}').",
            param=f"payload[{value_key}]",
        )
    timestamp = int(p.get("timestamp") or now)
    if timestamp < now - PAST_WINDOW or timestamp > now + FUTURE_WINDOW:
        raise invalid_request(
            "The timestamp must be within the past 35 calendar days or up to 5 minutes in the "
            "future.",
            param="timestamp",
        )
    identifier = str(p.get("identifier") or new_id("idmp", 16))
    duplicate = (
        SandboxObject.objects.filter(object="sandbox.meter_event", account=req.account)
        .filter(data__identifier=identifier, created__gte=now - IDENTIFIER_WINDOW)
        .exists()
    )
    if duplicate:
        raise invalid_request(
            f"An event with identifier '{identifier}' was already recorded in the last 24 hours; "
            "identifiers are unique within a rolling 24-hour period, so this one is not counted "
            "again.",
            param="identifier",
            code="resource_already_exists",
        )
    event: JSON = {
        "object": "billing.meter_event",
        "created": now,
        "event_name": event_name,
        "identifier": identifier,
        "livemode": False,
        "payload": payload,
        "timestamp": timestamp,
    }
    # Kept as an internal row (Stripe has no endpoint to read meter events back).
    SandboxObject.objects.create(
        id=new_id("mevt"),
        object="sandbox.meter_event",
        account=req.account,
        created=now,
        data={
            "meter": meter.id,
            "customer": customer,
            "value": int(raw_value),
            "timestamp": timestamp,
            "identifier": identifier,
            "canceled": False,
        },
    )
    return event


@route("POST", "/v1/billing/meter_event_adjustments", params=MeterEventAdjustmentCreateParams)
def adjustment_create(req: Request) -> JSON:
    p = req.params
    now = clock.now()
    event_name = str(p["event_name"])
    identifier = str((p.get("cancel") or {}).get("identifier") or "")
    if not identifier:
        raise invalid_request(
            "Missing required param: cancel[identifier].",
            param="cancel[identifier]",
            code="parameter_missing",
        )
    meter = active_meter_for(event_name, req.account)
    row = (
        SandboxObject.objects.select_for_update()
        .filter(object="sandbox.meter_event", account=req.account, data__identifier=identifier)
        .filter(data__meter=meter.id if meter else "")
        .first()
    )
    if row is None:
        raise invalid_request(
            f"No meter event with identifier '{identifier}' for event_name '{event_name}'.",
            param="cancel[identifier]",
            code="resource_missing",
        )
    if row.created < now - DAY:
        raise invalid_request(
            "A meter event can only be canceled within 24 hours of when it was recorded.",
            param="cancel[identifier]",
        )
    if row.data.get("canceled"):
        raise invalid_request(
            f"The meter event with identifier '{identifier}' is already canceled.",
            param="cancel[identifier]",
        )
    row.data["canceled"] = True
    row.save(update_fields=["data", "updated_at"])
    return {
        "object": "billing.meter_event_adjustment",
        "cancel": {"identifier": identifier},
        "event_name": event_name,
        "livemode": False,
        "status": "pending",
        "type": "cancel",
    }
