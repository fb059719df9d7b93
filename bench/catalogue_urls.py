"""Bench-only URLs: the project's, plus a view serving the raw SQL of one catalogue page."""

from __future__ import annotations

from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.urls import include, path

from buyers import selectors


def raw_sql(url: str) -> tuple[str, tuple[object, ...]]:
    """The SQL of the catalogue page ``url`` (its cursor, if any, is a price_asc one): the very
    query the page runs, built by the same selector."""
    _, _, query = url.partition("cursor=")
    cursor = query.split("&", 1)[0]
    sort = "price_asc" if cursor else selectors.DEFAULT_SORT
    qs, _, _ = selectors.catalogue_queryset(
        query=selectors.CatalogueQuery(sort=sort, cursor=cursor)
    )
    return qs.query.sql_with_params()


def raw_page(request: HttpRequest) -> HttpResponse:
    """The same 24 rows as the catalogue page, by its own SQL, as plain text: the baseline."""
    sql, params = raw_sql(request.get_full_path())
    with connection.cursor() as db:
        db.execute(sql, params)
        rows = db.fetchall()
    return HttpResponse("\n".join(repr(row) for row in rows), content_type="text/plain")


urlpatterns = [path("bench/raw-page/", raw_page), path("", include("project.urls"))]
