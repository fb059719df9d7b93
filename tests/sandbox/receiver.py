"""A webhook receiver for the sandbox tests: verifies signatures with the SDK and records events.

Mounted by ``tests/sandbox/urls.py`` at ``/hooks/<name>/``. ``RECEIVER.answers[name]`` is a list of
status codes to answer in turn (then 200); ``RECEIVER.secrets[name]`` the signing secret.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import stripe
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt


@dataclass
class Receiver:
    secrets: dict[str, str] = field(default_factory=dict)
    answers: dict[str, list[int]] = field(default_factory=dict)
    received: dict[str, list[Any]] = field(default_factory=dict)
    rejected: dict[str, list[str]] = field(default_factory=dict)

    def reset(self) -> None:
        self.secrets.clear()
        self.answers.clear()
        self.received.clear()
        self.rejected.clear()


RECEIVER = Receiver()


@csrf_exempt
def hook(request: HttpRequest, name: str) -> HttpResponse:
    payload = request.body.decode()
    try:
        event = stripe.Webhook.construct_event(
            payload, request.headers.get("Stripe-Signature", ""), RECEIVER.secrets.get(name, "")
        )
    except (ValueError, stripe.SignatureVerificationError) as exc:
        RECEIVER.rejected.setdefault(name, []).append(str(exc))
        return HttpResponse("bad signature", status=400)
    answers = RECEIVER.answers.get(name) or []
    status = answers.pop(0) if answers else 200
    if status < 300:
        RECEIVER.received.setdefault(name, []).append(event)
    return HttpResponse(f"answered {status}", status=status)
