"""Events: ``GET /v1/events`` (platform, or a connected account's with ``Stripe-Account``) and
``GET /v1/events/{id}``."""

from __future__ import annotations

from typing import Any

from stripe.params import EventListParams

from sandbox import store
from sandbox.models import Delivery
from sandbox.router import Request, route

JSON = dict[str, Any]


@route("GET", "/v1/events/{id}")
def retrieve(req: Request) -> JSON:
    return store.get(req.args["id"], object_type="event", account=req.account, name="event")


@route("GET", "/v1/events", params=EventListParams)
def list_(req: Request) -> JSON:
    p = req.params
    qs = store.queryset("event", account=req.account)
    if p.get("type"):
        event_type = p["type"]
        if "*" in event_type:
            qs = qs.filter(data__type__startswith=event_type.split("*", 1)[0])
        else:
            qs = qs.filter(data__type=event_type)
    if p.get("types"):
        qs = qs.filter(data__type__in=list(p["types"]))
    if "delivery_success" in p:
        failing = Delivery.objects.exclude(status=Delivery.Status.SUCCEEDED).values("event_id")
        delivered = Delivery.objects.filter(status=Delivery.Status.SUCCEEDED).values("event_id")
        if p["delivery_success"]:
            qs = qs.filter(pk__in=delivered).exclude(pk__in=failing)
        else:
            qs = qs.filter(pk__in=failing)
    return store.list_response(qs, p, url="/v1/events")
