"""The two Stripe webhook endpoints. Thin: parse the request, call ``event_receive``, answer.

CSRF-exempt (Stripe cannot send a token; the signature authenticates the request), POST only.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from marketplace.events.models import StripeEvent
from marketplace.events.services import intake

logger = logging.getLogger("marketplace.events.webhook")


def _intake(request: HttpRequest, *, source: str) -> HttpResponse:
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    try:
        if length > intake.MAX_BODY_BYTES:
            raise intake.IntakeError(f"body larger than {intake.MAX_BODY_BYTES} bytes")
        result = intake.event_receive(
            body=request.body,
            sig_header=request.headers.get("Stripe-Signature", ""),
            source=source,
        )
    except intake.IntakeError as exc:
        response = HttpResponse(f"{exc}\n", status=400, content_type="text/plain")
        # One warning line with the reason; stop django.request from logging a second one.
        logger.warning("Stripe webhook refused (%s endpoint): %s", source, exc)
        response._has_been_logged = True  # type: ignore[attr-defined]
        return response
    if not result.stored:
        text = "duplicate\n"
    elif result.ignored_reason:
        text = f"ignored: {result.ignored_reason}\n"
    else:
        text = "stored\n"
    return HttpResponse(text, content_type="text/plain")


@csrf_exempt
@require_POST
@transaction.non_atomic_requests
def webhook(request: HttpRequest) -> HttpResponse:
    """Platform events (``STRIPE_WEBHOOK_SECRET``)."""
    return _intake(request, source=StripeEvent.Source.PLATFORM)


@csrf_exempt
@require_POST
@transaction.non_atomic_requests
def webhook_connect(request: HttpRequest) -> HttpResponse:
    """Events of connected accounts, carrying ``account`` (``STRIPE_CONNECT_WEBHOOK_SECRET``)."""
    return _intake(request, source=StripeEvent.Source.CONNECT)
