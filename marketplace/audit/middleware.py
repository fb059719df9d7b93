from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.urls import reverse

from marketplace.audit.origin import audit_origin, client_ip


class AuditOriginMiddleware:
    """Tags everything a request audits with its user and address (see origin.py)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        via = "admin" if request.path.startswith(reverse("admin:index")) else "web"
        with audit_origin(via=via, user=request.user, ip_address=client_ip(request)):
            return self.get_response(request)
