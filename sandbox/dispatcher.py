"""``handle(method, path, headers, body)``: one API request in, Stripe's answer out.

Used by the in-process SDK client (``sandbox.client``) and the HTTP view (``/sandbox/v1/...``).
Order of work, as on Stripe: fault injection, authentication, route, ``Stripe-Account``,
idempotency replay, param validation, then the resource function in one ``transaction.atomic()``
(a ``StripeError`` rolls its writes back unless ``keep_changes``), ``expand``, and the
idempotency record of the executed request.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import stripe
from django.db import IntegrityError, OperationalError, transaction

from sandbox import (
    access,
    clock,
    context,
    delivery,
    faults,
    formdecode,
    multipart,
    ratelimit,
    shapes,
    store,
    versions,
)
from sandbox.errors import StripeError, api_error, idempotency_error, rate_limit_error
from sandbox.ids import new_request_id
from sandbox.models import IdempotencyRecord, RequestLog, SandboxObject
from sandbox.router import Request, resolve
from sandbox.validation import validate

logger = logging.getLogger(__name__)

Response = tuple[int, dict[str, str], str]

IDEMPOTENCY_TTL = 24 * 3600  # seconds on the sandbox clock


class SimulatedTimeout(Exception):
    """An injected connection timeout: the in-process client raises the SDK's
    ``APIConnectionError``; the HTTP view answers 504."""


def _ensure_resources() -> None:
    import sandbox.resources  # noqa: F401 - registers the routes


def _dumps(body: Mapping[str, Any], *, compact: bool = False) -> str:
    """The response body: indented as Stripe's are, or ``compact`` (no whitespace) for a
    client that only parses it (the in-process client: the same JSON, encoded by the standard
    library's C encoder, which ``indent`` turns off; some five times faster on a page of 100)."""
    if compact:
        return json.dumps(body, separators=(",", ":"))
    return json.dumps(body, indent=2)


def _headers(request_id: str, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    headers = {
        "Content-Type": "application/json",
        "Request-Id": request_id,
        "Stripe-Version": stripe.api_version,
        "Access-Control-Allow-Origin": "*",
    }
    if extra:
        headers.update(extra)
    return headers


def _error(request_id: str, error: StripeError) -> Response:
    return error.status, _headers(request_id, error.headers), _dumps(error.body())


def _api_key(headers: Mapping[str, str]) -> str | None:
    auth = headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    if auth.lower().startswith("basic "):
        try:
            decoded = base64.b64decode(auth[6:].strip()).decode()
        except (ValueError, UnicodeDecodeError):
            return None
        return decoded.split(":", 1)[0]
    return None


def _check_key(key: str | None) -> StripeError | None:
    if not key:
        return StripeError(
            "You did not provide an API key. You need to provide your API key in the "
            "Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). "
            "See https://stripe.com/docs/api#authentication for details, or we can help at "
            "https://support.stripe.com/.",
            status=401,
        )
    if not access.key_matches(key) and not access.is_publishable(key):
        # Only the configured SANDBOX_SECRET_KEY (or, on the routes that take it, the
        # SANDBOX_PUBLISHABLE_KEY), never any key of the right shape.
        masked = key[:8] + "*" * max(0, len(key) - 12) + key[-4:]
        return StripeError(
            f"Invalid API Key provided: {masked}", status=401, code="api_key_invalid"
        )
    return None


def fingerprint(method: str, path: str, raw: Mapping[str, Any]) -> str:
    canonical = json.dumps([method.upper(), path, raw], sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _check_account(account: str) -> StripeError | None:
    row = (
        SandboxObject.objects.filter(pk=account, object="account", account="")
        .only("deleted", "private")
        .first()
    )
    if row is None or row.deleted or row.private.get("deauthorized"):
        return StripeError(
            "The provided key 'sk_test_***' does not have access to account "
            f"'{account}' (or that account does not exist). Application access may have been revoked.",
            status=403,
            code="account_invalid",
        )
    return None


def handle(
    method: str,
    path: str,
    headers: Mapping[str, str],
    body: bytes | str | None = None,
    *,
    compact: bool = False,
) -> Response:
    """Answer one API request: ``(status, response headers, JSON body)``.

    ``compact``: the JSON body without indentation (for a client that only parses it).

    ``path`` is the URL path after the API base (``/v1/accounts?limit=3``); a full URL is
    accepted too. Raises ``SimulatedTimeout`` for an injected timeout. Database contention
    (a locked SQLite database, a PostgreSQL deadlock) is Stripe's 409 ``lock_timeout`` with
    ``Stripe-Should-Retry: true``, which the SDK retries.
    """
    try:
        return _handle_request(method, path, headers, body, compact=compact)
    except OperationalError as exc:
        if transaction.get_connection().in_atomic_block:
            raise  # inside the caller's transaction: it must roll back, not carry on
        logger.warning("sandbox: database contention on %s %s: %s", method, path, exc)
        return _error(
            new_request_id(),
            StripeError(
                "This object cannot be accessed right now because another API request or "
                "Stripe process is currently accessing it. Please retry.",
                status=409,
                code="lock_timeout",
                headers={"Stripe-Should-Retry": "true"},
            ),
        )


def _handle_request(
    method: str,
    path: str,
    headers: Mapping[str, str],
    body: bytes | str | None,
    *,
    compact: bool = False,
) -> Response:
    _ensure_resources()
    method = method.upper()
    parts = urlsplit(path)
    path, query = parts.path, parts.query
    if path.startswith("/sandbox/"):
        path = path[len("/sandbox") :]
    lowered = {k.lower(): v for k, v in headers.items()}
    request_id = new_request_id()
    account = lowered.get("stripe-account", "").strip()
    idempotency_key = lowered.get("idempotency-key", "").strip()
    log = RequestLog(
        request_id=request_id,
        method=method,
        path=path,
        account=account,
        idempotency_key=idempotency_key,
    )

    if ratelimit.exceeded():  # SANDBOX_RATE_LIMIT_PER_SECOND: Stripe's limit, enforced
        log.status = 429
        log.fault = "rate_limit"
        log.save()
        return _error(request_id, rate_limit_error())
    fault = faults.consume(method, path)
    if fault is not None:
        log.fault = fault.kind
        if fault.latency_ms:
            time.sleep(fault.latency_ms / 1000)
        if fault.kind == "500":
            log.status = 500
            log.save()
            return _error(request_id, api_error("An unknown error occurred (injected fault)."))
        if fault.kind == "429":
            log.status = 429
            log.save()
            return _error(request_id, rate_limit_error())
        if fault.kind == "timeout":
            log.save()
            raise SimulatedTimeout("Request timed out (injected fault)")

    status, response_headers, response_body = _handle(
        method, path, query, lowered, body, request_id, account, idempotency_key, log, compact
    )
    log.status = status
    log.save()
    transaction.on_commit(delivery.maybe_tick)
    if fault is not None and fault.kind == "timeout_after":
        raise SimulatedTimeout("Request timed out after it ran (injected fault)")
    return status, response_headers, response_body


def _handle(
    method: str,
    path: str,
    query: str,
    headers: Mapping[str, str],
    body: bytes | str | None,
    request_id: str,
    account: str,
    idempotency_key: str,
    log: RequestLog,
    compact: bool = False,
) -> Response:
    key = _api_key(headers)
    problem = _check_key(key)
    if problem is not None:
        return _error(request_id, problem)
    publishable = access.is_publishable(key or "")
    try:
        found, args = resolve(method, path)
        if publishable and found.publishable is None:
            raise access.publishable_key_refused()
        content_type = headers.get("content-type", "")
        if method == "POST" and content_type.startswith("multipart/form-data"):
            # File uploads (files.stripe.com in real Stripe): sandbox/multipart.py.
            raw_body = body if isinstance(body, bytes) else (body or "").encode()
            text, files = multipart.decode(raw_body, content_type)
        else:
            text = body.decode() if isinstance(body, bytes) else (body or "")
            files = {}
        multipart.uploads.set(files)
        if method == "POST" and text and "json" in content_type:
            raise StripeError(
                "Invalid request: the Stripe API takes form-encoded bodies "
                "(application/x-www-form-urlencoded).",
            )
        raw = formdecode.decode(text if method == "POST" else query)
        if method == "POST" and query:
            # Stripe ignores the query string of a POST except for expand
            raw.update({k: v for k, v in formdecode.decode(query).items() if k == "expand"})
        version = versions.check(headers.get("stripe-version", ""))
        raw = versions.adapt(method, found.pattern, raw, version)
    except StripeError as exc:
        return _error(request_id, exc)

    if account:
        if not found.connect:
            return _error(
                request_id,
                StripeError(
                    "This API call cannot be made on behalf of a connected account "
                    "(remove the Stripe-Account header).",
                    status=400,
                ),
            )
        problem = _check_account(account)
        if problem is not None:
            return _error(request_id, problem)

    # Stripe.js sends no idempotency keys; a publishable key never replays a stored answer.
    use_idempotency = method == "POST" and bool(idempotency_key) and not publishable
    print_ = fingerprint(method, path, raw)
    if use_idempotency:
        record = IdempotencyRecord.objects.filter(account=account, key=idempotency_key).first()
        if record is not None and record.created < clock.now() - IDEMPOTENCY_TTL:
            record.delete()  # Stripe forgets keys after 24 hours
            record = None
        if record is not None:
            if record.fingerprint != print_:
                return _error(
                    request_id,
                    idempotency_error(
                        "Keys for idempotent requests can only be used with the same parameters "
                        "they were first used with. Try using a key other than "
                        f"'{idempotency_key}' if you meant to execute a different request."
                    ),
                )
            log.replayed = True
            return (
                record.status,
                _headers(
                    record.request_id,
                    {
                        "Idempotency-Key": idempotency_key,
                        "Idempotent-Replayed": "true",
                        "Original-Request": record.request_id,
                    },
                ),
                record.body,
            )

    # Parameters of older API versions that the SDK's TypedDicts no longer declare.
    legacy = {k: raw[k] for k in ("payment_method_types",) if k in raw}
    raw_checked = {k: v for k, v in raw.items() if k not in legacy}
    try:
        if publishable and found.publishable not in (None, "open"):
            # Stripe.js sends the intent's client secret with every call it makes for it.
            given = raw_checked.pop("client_secret", None)
            intent = store.get(
                args.get("intent", ""),
                object_type=found.publishable,
                account=account,
                name=found.publishable,
                param="intent",
            )
            access.check_client_secret(
                intent, given if isinstance(given, str) else None, param="client_secret"
            )
        params = validate(raw_checked, found.params)
        if publishable and method == "POST" and found.publishable:
            access.check_client_params(found.publishable, params)
    except StripeError as exc:
        return _error(request_id, exc)
    if legacy:
        params["payment_method_types"] = versions.legacy_list(legacy["payment_method_types"])

    req = Request(
        method=method,
        path=path,
        params=params,
        account=account,
        args=args,
        idempotency_key=idempotency_key,
        request_id=request_id,
        api_key=_api_key(headers) or "",
        stripe_version=version,
        raw_params=raw,
        publishable=publishable,
    )
    token = context.current.set(
        context.RequestContext(
            request_id, idempotency_key or None, account, clock.now(), api_version=version
        )
    )
    extra: dict[str, str] = {}
    if idempotency_key:
        extra["Idempotency-Key"] = idempotency_key
    try:
        with transaction.atomic():
            status, payload, error_headers = _run(found.handler, req)
            if publishable:
                payload = access.client_view(payload)
            text_body = _dumps(payload, compact=compact)
            if use_idempotency:
                with transaction.atomic():
                    IdempotencyRecord.objects.create(
                        account=account,
                        key=idempotency_key,
                        method=method,
                        path=path,
                        fingerprint=print_,
                        status=status,
                        body=text_body,
                        request_id=request_id,
                        created=clock.now(),
                    )
    except IntegrityError:
        return _error(
            request_id,
            StripeError(
                "There is currently another in-progress request using this Stripe token "
                "(Idempotency-Key). Please try again later.",
                status=409,
                code="idempotency_key_in_use",
                headers={"Stripe-Should-Retry": "true"},
            ),
        )
    except OperationalError:
        raise  # contention: handle() answers 409 lock_timeout
    except Exception:
        logger.exception("sandbox: %s %s crashed", method, path)
        return _error(request_id, api_error("An unknown error occurred in the Stripe sandbox."))
    finally:
        context.current.reset(token)
    extra.update(error_headers)
    extra["Stripe-Version"] = version
    return status, _headers(request_id, extra), text_body


def _run(handler: Any, req: Request) -> tuple[int, dict[str, Any], dict[str, str]]:
    sid = transaction.savepoint_create()
    try:
        result = handler(req)
    except StripeError as exc:
        if exc.keep_changes:
            transaction.savepoint_commit(sid)
        else:
            transaction.savepoint_rollback(sid)
        return exc.status, exc.body(), exc.headers
    except Exception:
        transaction.savepoint_rollback(sid)
        raise
    transaction.savepoint_commit(sid)
    status, payload = result if isinstance(result, tuple) else (200, result)
    if status < 300:
        shapes.complete(payload)
    if req.expand and status < 300:
        try:
            payload = store.expand(payload, req.expand, account=req.account or None)
        except StripeError as exc:
            return exc.status, exc.body(), exc.headers
    return status, payload, {}
