"""Bench-only URLs: the project's own, plus the baseline bare views next to the webhook endpoints
(same depth in the URLconf, so both are resolved alike)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, URLResolver, path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from marketplace import stripe_gateway

BASELINE_TABLE = "bench_raw_event"


class CountingMiddleware:
    """Adds ``X-Bench-Queries`` and ``X-Bench-Stripe-Calls`` to every response."""

    stripe_calls = 0

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        original = stripe_gateway.client

        def counting_client() -> Any:
            CountingMiddleware.stripe_calls += 1
            return original()

        stripe_gateway.client = counting_client  # type: ignore[assignment]

    def __call__(self, request: HttpRequest) -> HttpResponse:
        queries = [0]

        def count(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
            queries[0] += 1
            return execute(sql, params, many, context)

        before = CountingMiddleware.stripe_calls
        with connection.execute_wrapper(count):
            response = self.get_response(request)
        response["X-Bench-Queries"] = str(queries[0])
        response["X-Bench-Stripe-Calls"] = str(CountingMiddleware.stripe_calls - before)
        return response


def _bare(secrets: list[str]) -> Callable[[HttpRequest], HttpResponse]:
    @csrf_exempt
    @require_POST
    def view(request: HttpRequest) -> HttpResponse:
        """Baseline: verify the signature header, insert the raw body into one table."""
        try:
            stripe_gateway.webhook_verify_signature(
                payload=request.body,
                sig_header=request.headers.get("Stripe-Signature", ""),
                secrets=secrets,
            )
        except stripe_gateway.WebhookSignatureError as exc:
            return HttpResponse(f"{exc}\n", status=400, content_type="text/plain")
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {BASELINE_TABLE} (body) VALUES (%s)",
                [request.body.decode()],
            )
        return HttpResponse("stored\n", content_type="text/plain")

    return view


def _urlpatterns() -> list[URLPattern | URLResolver]:
    from project.urls import urlpatterns as project

    bare = [
        path("bench/raw/", _bare(settings.STRIPE_WEBHOOK_SECRETS)),
        path("bench/raw/connect/", _bare(settings.STRIPE_CONNECT_WEBHOOK_SECRETS)),
    ]
    at = next(i for i, p in enumerate(project) if str(p.pattern) == "stripe/")
    return [*project[:at], *bare, *project[at:]]


urlpatterns = _urlpatterns()
