"""The route table: ``@route("POST", "/v1/accounts", params=stripe.params.AccountCreateParams)``.

A resource function takes a ``Request`` and returns the response JSON (status 200) or
``(status, json)``; it raises ``sandbox.errors.StripeError`` for an error answer. Path
placeholders (``/v1/accounts/{account}``) arrive in ``req.args``. ``req.params`` has been
validated and coerced against ``params`` (None: only ``expand`` is accepted).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sandbox.errors import StripeError

JSON = dict[str, Any]
Result = JSON | tuple[int, JSON]


@dataclass
class Request:
    method: str
    path: str
    params: dict[str, Any]
    # "" for the platform, else the connected account named by the Stripe-Account header.
    account: str = ""
    args: dict[str, str] = field(default_factory=dict)
    idempotency_key: str = ""
    request_id: str = ""
    api_key: str = ""
    stripe_version: str = ""
    raw_params: dict[str, Any] = field(default_factory=dict)
    # True when the caller sent the publishable key (the stand-in Stripe.js), not the secret key.
    publishable: bool = False

    @property
    def expand(self) -> list[str]:
        return list(self.params.get("expand") or [])


Handler = Callable[[Request], Result]


@dataclass
class Route:
    method: str
    pattern: str
    regex: re.Pattern[str]
    handler: Handler
    params: type | None
    # False for endpoints that must be called by the platform (no Stripe-Account header).
    connect: bool = True
    # Who may call it with the publishable key: None (secret key only), "open" (no further
    # check) or the object type whose ``client_secret`` the caller must send ("payment_intent",
    # "setup_intent", named by the ``{intent}`` placeholder). See sandbox.access.
    publishable: str | None = None


ROUTES: list[Route] = []


def _compile(pattern: str) -> re.Pattern[str]:
    regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", pattern)
    return re.compile(f"^{regex}$")


def route(
    method: str,
    pattern: str,
    *,
    params: type | None = None,
    connect: bool = True,
    publishable: str | None = None,
) -> Callable[[Handler], Handler]:
    """Register ``handler`` for ``method pattern``; re-registering the same pair replaces it."""

    def decorator(handler: Handler) -> Handler:
        new = Route(
            method.upper(), pattern, _compile(pattern), handler, params, connect, publishable
        )
        for index, existing in enumerate(ROUTES):
            if existing.method == new.method and existing.pattern == pattern:
                ROUTES[index] = new
                return handler
        ROUTES.append(new)
        return handler

    return decorator


def resolve(method: str, path: str) -> tuple[Route, dict[str, str]]:
    """The route for ``method path`` (literal segments win over placeholders) or Stripe's 404."""
    matches: list[tuple[int, Route, dict[str, str]]] = []
    for candidate in ROUTES:
        if candidate.method != method.upper():
            continue
        match = candidate.regex.match(path)
        if match:
            matches.append((candidate.pattern.count("{"), candidate, match.groupdict()))
    if not matches:
        raise StripeError(
            f"Unrecognized request URL ({method.upper()}: {path}). Please see "
            "https://stripe.com/docs or we can help at https://support.stripe.com/.",
            status=404,
        )
    matches.sort(key=lambda item: item[0])
    _, found, args = matches[0]
    return found, args
