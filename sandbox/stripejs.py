"""The stand-in Stripe.js: ``/sandbox/js/v3/`` (the script) and ``/sandbox/js/v3/elements.css``
(the look of its Payment Element and 3-D Secure challenge). Static files with no dependencies;
pages load the script instead of ``https://js.stripe.com/v3/`` when the sandbox stands in for
Stripe. What it implements: docs/sandbox.md, "Stripe.js in the sandbox"."""

from __future__ import annotations

import functools
from pathlib import Path

from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_http_methods

HERE = Path(__file__).resolve().parent / "static" / "sandbox" / "stripe-js"


@functools.cache
def _read(name: str) -> bytes:
    return (HERE / name).read_bytes()


def _serve(name: str, content_type: str) -> HttpResponse:
    response = HttpResponse(_read(name), content_type=content_type)
    response["Cache-Control"] = "public, max-age=300"
    return response


@require_http_methods(["GET", "HEAD"])
def stripe_js(request: HttpRequest) -> HttpResponse:
    return _serve("v3.js", "text/javascript; charset=utf-8")


@require_http_methods(["GET", "HEAD"])
def elements_css(request: HttpRequest) -> HttpResponse:
    return _serve("elements.css", "text/css; charset=utf-8")
