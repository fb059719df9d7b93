"""Who may reach the sandbox from outside the process: the one opening rule.

The marketplace itself calls the sandbox in-process (``sandbox.client``), which needs no opening.
Every HTTP entry into the sandbox (the API at ``/sandbox/v1/``, the hosted pages, the control
page, and any server that exposes them) answers only when ``SANDBOX_HTTP_OPEN`` is on (the
default with DEBUG, i.e. ``make demo`` and the tests); otherwise it is a plain 404, as if the
sandbox were not there. When open, the API still requires the configured ``SANDBOX_SECRET_KEY``
(``key_matches``) and the control page follows ``SANDBOX_CONTROL_OPEN`` (anyone, or staff only).

The publishable key (``SANDBOX_PUBLISHABLE_KEY``, sent by the stand-in Stripe.js) opens only the
routes registered with ``publishable=...`` (``sandbox.router.route``), as on Stripe: retrieving
and confirming a PaymentIntent or SetupIntent with its ``client_secret``
(``check_client_secret``), creating a PaymentMethod. Any other call with it is Stripe's 401
(``publishable_key_refused``), and what such a call returns is the client-side view of the
object (``client_view``: no metadata, fees, transfers or customer).
"""

from __future__ import annotations

import functools
import hmac
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse

DEFAULT_SECRET_KEY = "sk_test_sandbox"
DEFAULT_PUBLISHABLE_KEY = "pk_test_sandbox"


def http_open() -> bool:
    """Whether requests from outside may reach the sandbox at all (read on every request)."""
    return bool(getattr(settings, "SANDBOX_HTTP_OPEN", False))


def secret_key() -> str:
    """The sandbox's API secret key: the in-process client sends it, HTTP callers must."""
    return str(getattr(settings, "SANDBOX_SECRET_KEY", "") or DEFAULT_SECRET_KEY)


def key_matches(key: str) -> bool:
    """Constant-time comparison with the configured key (never "any key of the right shape")."""
    return hmac.compare_digest(key.encode("utf-8", "replace"), secret_key().encode())


def publishable_key() -> str:
    """The sandbox's publishable key (what ``Stripe(pk)`` gets on a page using the sandbox)."""
    return str(getattr(settings, "SANDBOX_PUBLISHABLE_KEY", "") or DEFAULT_PUBLISHABLE_KEY)


def is_publishable(key: str) -> bool:
    """Whether ``key`` is the configured publishable key (constant-time)."""
    return hmac.compare_digest(key.encode("utf-8", "replace"), publishable_key().encode())


View = Callable[..., HttpResponse]


def require_open(view: View) -> View:
    """Wrap a view so that it is a 404 unless ``http_open()``."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not http_open():
            raise Http404("Not found")
        return view(request, *args, **kwargs)

    wrapper.sandbox_gated = True  # type: ignore[attr-defined]
    return wrapper


# --- the publishable key ------------------------------------------------------------------------
PUBLISHABLE_KEY_MESSAGE = (
    "This API call cannot be made with a publishable API key. Please use a secret API key. You "
    "can find a list of your API keys at https://dashboard.stripe.com/account/apikeys."
)

# What a publishable key sees of an intent (Stripe.js's PaymentIntent / SetupIntent objects):
# never its metadata, customer, fees or transfer.
CLIENT_FIELDS: dict[str, frozenset[str]] = {
    "payment_intent": frozenset(
        {
            "id", "object", "amount", "amount_details", "automatic_payment_methods",
            "canceled_at", "cancellation_reason", "capture_method", "client_secret",
            "confirmation_method", "created", "currency", "description", "last_payment_error",
            "livemode", "next_action", "payment_method", "payment_method_types", "processing",
            "receipt_email", "setup_future_usage", "shipping", "status",
        }
    ),
    "setup_intent": frozenset(
        {
            "id", "object", "automatic_payment_methods", "cancellation_reason", "client_secret",
            "created", "description", "last_setup_error", "livemode", "next_action",
            "payment_method", "payment_method_types", "status", "usage",
        }
    ),
}  # fmt: skip


# The parameters Stripe.js sends on the calls a publishable key may make; anything else (an
# amount, capture_method, off_session ...) is for the server and its secret key.
CLIENT_PARAMS: dict[str, frozenset[str]] = {
    "payment_intent": frozenset(
        {
            "expand", "payment_method", "payment_method_data", "payment_method_options",
            "mandate_data", "receipt_email", "return_url", "setup_future_usage", "shipping",
            "use_stripe_sdk",
        }
    ),
    "setup_intent": frozenset(
        {
            "expand", "payment_method", "payment_method_data", "payment_method_options",
            "mandate_data", "return_url", "use_stripe_sdk",
        }
    ),
}  # fmt: skip


def check_client_params(kind: str, params: dict[str, Any]) -> None:
    """A publishable-key call to an intent may carry only what Stripe.js sends (a tampered
    amount or capture method from the browser changes nothing: it is refused)."""
    from sandbox.errors import StripeError

    allowed = CLIENT_PARAMS.get(kind)
    if allowed is None:
        return
    for key in params:
        if key not in allowed and key != "outcome":
            raise StripeError(
                f"The parameter `{key}` cannot be set with a publishable API key; make this "
                "request from your server with your secret key.",
                status=400,
                param=key,
            )


def publishable_key_refused() -> Any:
    """Stripe's answer to a secret-key-only call made with the publishable key."""
    from sandbox.errors import StripeError

    return StripeError(PUBLISHABLE_KEY_MESSAGE, status=401, code="secret_key_required")


def check_client_secret(obj: dict[str, Any], given: str | None, *, param: str) -> None:
    """The publishable key reaches an intent only with its ``client_secret``: missing is
    Stripe's 400 ``parameter_missing``, another one its 400 ``*_invalid_parameter``."""
    from sandbox.errors import StripeError, parameter_missing

    if not given:
        raise parameter_missing(param)
    kind = str(obj.get("object") or "")
    expected = str(obj.get("client_secret") or "")
    if not expected or not hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode()):
        name = "PaymentIntent" if kind == "payment_intent" else "SetupIntent"
        raise StripeError(
            f"The client_secret provided does not match the client_secret associated with the "
            f"{name}.",
            status=400,
            code=f"{kind}_invalid_parameter",
            param=param,
        )


def client_view(payload: Any) -> Any:
    """A response as a publishable key gets it: the intents (top level, or in an error's
    ``payment_intent`` / ``setup_intent``) cut to their client-side fields."""
    if not isinstance(payload, dict):
        return payload
    if isinstance(payload.get("error"), dict):
        error = dict(payload["error"])
        for key in ("payment_intent", "setup_intent"):
            if isinstance(error.get(key), dict):
                error[key] = client_view(error[key])
        return {**payload, "error": error}
    fields = CLIENT_FIELDS.get(str(payload.get("object") or ""))
    if fields is None:
        return payload
    return {key: value for key, value in payload.items() if key in fields}
