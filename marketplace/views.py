from __future__ import annotations

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.views.decorators.http import require_GET
from django.views.static import serve


@require_GET
def media(request: HttpRequest, path: str) -> HttpResponseBase:
    """Serve an uploaded file from MEDIA_ROOT (read per request, so tests can move it)."""
    return serve(request, path, document_root=str(settings.MEDIA_ROOT))


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness and database reachability, for the load balancer and docker compose."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        database = "ok"
    except Exception:
        database = "unreachable"
    status = 200 if database == "ok" else 503
    return JsonResponse(
        {"status": "ok" if status == 200 else "degraded", "database": database}, status=status
    )


def error_403(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render(request, "403.html", status=403)


def error_404(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render(request, "404.html", status=404)


def error_500(request: HttpRequest) -> HttpResponse:
    return render(request, "500.html", status=500)
