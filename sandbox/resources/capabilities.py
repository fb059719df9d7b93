"""Capabilities of connected accounts (``/v1/accounts/{account}/capabilities``: list, retrieve,
update ``requested``) and Account Sessions (``/v1/account_sessions``, which Connect embedded
components need).

A capability is a view of the account's ``capabilities`` hash (name -> status) and its
``requirements``: requested capabilities are listed with their status; any other capability
Stripe knows is ``unrequested``. ``requested=true`` adds it (``active`` when the account can
already charge, else ``inactive``), ``requested=false`` removes it; both emit
``account.updated`` and ``capability.updated`` (Connect events).
"""

from __future__ import annotations

import copy
from typing import Any

from stripe._account_session import AccountSession
from stripe.params import (
    AccountCapabilityListParams,
    AccountCapabilityRetrieveParams,
    AccountCapabilityUpdateParams,
    AccountCreateParamsCapabilities,
    AccountSessionCreateParams,
)

from sandbox import clock, store
from sandbox.errors import invalid_request, resource_missing
from sandbox.events import emit
from sandbox.fidelity import declared_fields, default_of
from sandbox.ids import random_token
from sandbox.resources.accounts import accessible, account_update
from sandbox.router import Request, route

JSON = dict[str, Any]

KNOWN = tuple(AccountCreateParamsCapabilities.__annotations__)
ACCOUNT_SESSION_TTL = 30 * 60


def capability_json(account: JSON, name: str) -> JSON:
    status = (account.get("capabilities") or {}).get(name)
    requested = status is not None
    requirements = copy.deepcopy(account["requirements"])
    requirements.pop("disabled_reason", None)
    requirements["disabled_reason"] = (
        None if status in ("active", None) else account["requirements"].get("disabled_reason")
    )
    future = copy.deepcopy(account.get("future_requirements") or {})
    return {
        "id": name,
        "object": "capability",
        "account": account["id"],
        "future_requirements": future,
        "requested": requested,
        "requested_at": account["created"] if requested else None,
        "requirements": requirements if requested else None,
        "status": status or "unrequested",
    }


def _check_name(name: str) -> None:
    if name not in KNOWN:
        raise resource_missing("capability", name, param="capability")


@route("GET", "/v1/accounts/{account}/capabilities", params=AccountCapabilityListParams)
def list_(req: Request) -> JSON:
    account = accessible(req.args["account"])
    items = [capability_json(account, name) for name in sorted(account["capabilities"])]
    return store.list_of(items, url=f"/v1/accounts/{account['id']}/capabilities")


@route(
    "GET",
    "/v1/accounts/{account}/capabilities/{capability}",
    params=AccountCapabilityRetrieveParams,
)
def retrieve(req: Request) -> JSON:
    _check_name(req.args["capability"])
    return capability_json(accessible(req.args["account"]), req.args["capability"])


@route(
    "POST",
    "/v1/accounts/{account}/capabilities/{capability}",
    params=AccountCapabilityUpdateParams,
)
def update(req: Request) -> JSON:
    name = req.args["capability"]
    _check_name(name)
    account_id = req.args["account"]
    before = capability_json(accessible(account_id), name)
    requested = req.params.get("requested")

    def mutate(data: JSON) -> None:
        if requested is True and name not in data["capabilities"]:
            data["capabilities"][name] = "active" if data["charges_enabled"] else "inactive"
        elif requested is False:
            data["capabilities"].pop(name, None)

    account = account_update(account_id, mutate)
    after = capability_json(account, name)
    previous = store.diff(before, after)
    if previous:
        emit("capability.updated", after, account=account_id, previous_attributes=previous)
    return after


# --- Account Sessions --------------------------------------------------------------------------
def _components(given: JSON) -> JSON:
    """Every component the SDK declares: ``enabled`` and ``features`` as requested, the rest
    disabled with neutral features (account onboarding's documented defaults)."""
    out: JSON = {}
    classes = declared_fields(AccountSession.Components)
    for name, cls in classes.items():
        shape = default_of(cls)
        asked = given.get(name) or {}
        shape["enabled"] = bool(asked.get("enabled"))
        features = shape.get("features")
        if isinstance(features, dict):
            for key, value in (asked.get("features") or {}).items():
                if key in features:
                    features[key] = value
            if name == "account_onboarding":
                collect = (asked.get("features") or {}).get("external_account_collection", True)
                features["external_account_collection"] = bool(collect)
                features.setdefault("disable_stripe_user_authentication", False)
                if "disable_stripe_user_authentication" not in (asked.get("features") or {}):
                    features["disable_stripe_user_authentication"] = not collect
        out[name] = shape
    return out


@route("POST", "/v1/account_sessions", params=AccountSessionCreateParams, connect=False)
def account_session_create(req: Request) -> JSON:
    p = req.params
    account = accessible(str(p["account"]))
    components = p.get("components") or {}
    if not any(isinstance(c, dict) and c.get("enabled") for c in components.values()):
        raise invalid_request(
            "You must enable at least one component (components[<name>][enabled]=true).",
            param="components",
        )
    row = store.get_row(account["id"], object_type="account", account="", for_update=True)
    if not row.private.get("link_created"):
        row.private["link_created"] = True
        store.save(row)
    now = clock.now()
    return {
        "object": "account_session",
        "account": account["id"],
        "client_secret": f"accs_secret__{random_token(40)}",
        "components": _components(components),
        "expires_at": now + ACCOUNT_SESSION_TTL,
        "livemode": False,
    }
