"""Stripe-shaped errors. Raise one from a resource function; the dispatcher turns it into the
HTTP status and ``{"error": {...}}`` body Stripe sends, so the SDK raises its own exception class
(400/404 InvalidRequestError, 401 AuthenticationError, 402 CardError, 403 PermissionError,
409 IdempotencyError for ``idempotency_error``, 429 RateLimitError, 5xx APIError).
"""

from __future__ import annotations

from typing import Any

DOC_BASE = "https://stripe.com/docs/error-codes/"


class StripeError(Exception):
    """An error answer. ``keep_changes=True`` commits what the resource wrote before raising
    (Stripe keeps a declined charge and its events); by default the request's writes roll back."""

    def __init__(
        self,
        message: str,
        *,
        status: int = 400,
        type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        decline_code: str | None = None,
        keep_changes: bool = False,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.type = type
        self.code = code
        self.param = param
        self.decline_code = decline_code
        self.keep_changes = keep_changes
        self.extra = extra or {}
        self.headers = headers or {}

    def body(self, request_log_url: str | None = None) -> dict[str, Any]:
        error: dict[str, Any] = {"type": self.type, "message": self.message}
        if self.code:
            error["code"] = self.code
            error["doc_url"] = DOC_BASE + self.code
        if self.param:
            error["param"] = self.param
        if self.decline_code:
            error["decline_code"] = self.decline_code
        if request_log_url:
            error["request_log_url"] = request_log_url
        error.update(self.extra)
        return {"error": error}


def invalid_request(
    message: str, *, param: str | None = None, code: str | None = None, status: int = 400
) -> StripeError:
    return StripeError(message, status=status, code=code, param=param)


def parameter_unknown(param: str) -> StripeError:
    return StripeError(
        f"Received unknown parameter: {param}", code="parameter_unknown", param=param
    )


def parameter_missing(param: str) -> StripeError:
    return StripeError(f"Missing required param: {param}.", code="parameter_missing", param=param)


def resource_missing(object_name: str, object_id: str, param: str = "id") -> StripeError:
    return StripeError(
        f"No such {object_name}: '{object_id}'",
        status=404,
        code="resource_missing",
        param=param,
    )


def card_error(
    message: str,
    *,
    code: str = "card_declined",
    decline_code: str | None = None,
    param: str | None = None,
    keep_changes: bool = True,
    extra: dict[str, Any] | None = None,
) -> StripeError:
    return StripeError(
        message,
        status=402,
        type="card_error",
        code=code,
        decline_code=decline_code,
        param=param,
        keep_changes=keep_changes,
        extra=extra,
    )


def authentication_error(message: str) -> StripeError:
    return StripeError(message, status=401, type="invalid_request_error")


def permission_error(message: str, *, code: str | None = None) -> StripeError:
    return StripeError(message, status=403, type="invalid_request_error", code=code)


def idempotency_error(message: str) -> StripeError:
    return StripeError(message, status=400, type="idempotency_error")


def rate_limit_error(message: str = "Too many requests hit the API too quickly.") -> StripeError:
    return StripeError(message, status=429, type="invalid_request_error", code="rate_limit")


def api_error(message: str = "An unknown error occurred.", *, status: int = 500) -> StripeError:
    return StripeError(
        message, status=status, type="api_error", headers={"Stripe-Should-Retry": "true"}
    )
