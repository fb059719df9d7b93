"""HTTP face of the sandbox: ``/sandbox/v1/...`` answers like api.stripe.com."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from sandbox.dispatcher import SimulatedTimeout, handle


@csrf_exempt
def api(request: HttpRequest, path: str) -> HttpResponse:
    """Any method on ``/sandbox/v1/<path>``: handed to the dispatcher as ``/v1/<path>``."""
    headers = {key: value for key, value in request.headers.items()}
    full_path = f"/v1/{path}"
    if request.META.get("QUERY_STRING"):
        full_path += "?" + request.META["QUERY_STRING"]
    try:
        status, response_headers, body = handle(
            request.method or "GET", full_path, headers, request.body
        )
    except SimulatedTimeout:
        return HttpResponse(
            b'{"error": {"type": "api_error", "message": "Gateway timeout (injected fault)."}}',
            status=504,
            content_type="application/json",
        )
    response = HttpResponse(body.encode(), status=status)
    for key, value in response_headers.items():
        response[key] = value
    return response
