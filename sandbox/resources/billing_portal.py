"""The customer portal: ``POST /v1/billing_portal/sessions`` (``customer``, ``return_url``).

The session's ``url`` opens the sandbox's portal page (``/sandbox/portal/<bps_…>/``, with the
SANDBOX banner) where the customer sees their subscriptions and invoices, cancels a subscription
at the end of its period (or takes that back), changes the card used for future invoices (a test
card, which becomes the customer's and their subscriptions' default payment method), pays an open
invoice on its hosted page, and returns to ``return_url``. A session can be used for an hour of
sandbox time (Stripe's portal sessions are short-lived). ``flow_data`` (deep links into one
flow) and portal configurations are not emulated: the default configuration applies and
``flow_data`` is refused.
"""

from __future__ import annotations

from typing import Any

from stripe.params.billing_portal import SessionCreateParams

from sandbox import clock, store
from sandbox.errors import invalid_request
from sandbox.ids import new_id, random_token
from sandbox.router import Request, route

JSON = dict[str, Any]
SESSION_TTL = 3600
DEFAULT_CONFIGURATION = "bpc_sandbox_default"


def portal_url(session_id: str, token: str) -> str:
    from sandbox.resources.accounts import site_url

    return site_url(f"/sandbox/portal/{session_id}/{token}/")


@route("POST", "/v1/billing_portal/sessions", params=SessionCreateParams)
def create(req: Request) -> JSON:
    p = req.params
    customer = p.get("customer")
    if not customer:
        raise invalid_request(
            "Missing required param: customer.", param="customer", code="parameter_missing"
        )
    store.get(str(customer), object_type="customer", account=req.account, param="customer")
    if p.get("flow_data"):
        raise invalid_request(
            "The sandbox's customer portal does not emulate flow_data (deep links); open the "
            "portal's home page instead.",
            param="flow_data",
        )
    if p.get("configuration") and p["configuration"] != DEFAULT_CONFIGURATION:
        raise invalid_request(
            "The sandbox's customer portal has one configuration "
            f"('{DEFAULT_CONFIGURATION}'); custom configurations are not emulated.",
            param="configuration",
        )
    return_url = p.get("return_url")
    if return_url and not str(return_url).startswith(("http://", "https://")):
        raise invalid_request("Invalid URL: return_url must be an http(s) URL.", param="return_url")
    session_id = new_id("bps")
    token = random_token(32)
    return store.create(
        "bps",
        "billing_portal.session",
        {
            "configuration": DEFAULT_CONFIGURATION,
            "customer": customer,
            "customer_account": None,
            "flow": None,
            "livemode": False,
            "locale": p.get("locale"),
            "on_behalf_of": p.get("on_behalf_of"),
            "return_url": return_url,
            "url": portal_url(session_id, token),
        },
        account=req.account,
        object_id=session_id,
        private={"token": token, "expires_at": clock.now() + SESSION_TTL},
    )
