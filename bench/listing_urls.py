"""Bench-only URLs: the project's, plus a view serving the raw SQL of what a listing page shows."""

from __future__ import annotations

from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.urls import include, path

from bench.listing_page import raw_statements


def raw_listing(request: HttpRequest, pk: int) -> HttpResponse:
    """The rows the listing page shows, by hand-written SQL, as plain text: the baseline."""
    out = []
    with connection.cursor() as db:
        for sql, params in raw_statements(pk):
            db.execute(sql, params)
            out.extend(repr(row) for row in db.fetchall())
    return HttpResponse("\n".join(out), content_type="text/plain")


urlpatterns = [
    path("bench/raw-listing/<int:pk>/", raw_listing),
    path("", include("project.urls")),
]
