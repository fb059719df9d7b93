"""Bench-only URLs: the project's, plus a view serving the raw SQL of one catalogue page."""

from __future__ import annotations

from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.urls import include, path

from buyers import selectors


def raw_sql(url: str) -> tuple[str, tuple[object, ...]]:
    """The SQL of the catalogue page ``url`` (its cursor, if any, is a price_asc one)."""
    _, _, query = url.partition("cursor=")
    cursor = query.split("&", 1)[0]
    sort = "price_asc" if cursor else selectors.DEFAULT_SORT
    _, field, descending = selectors.SORTS[sort]
    qs = selectors.catalogue_listings()
    position = selectors.decode_cursor(sort, cursor)
    if position is not None:
        value, pk = position
        qs = qs.filter(**{f"{field}__gte": value}).exclude(**{f"{field}": value, "pk__lte": pk})
    qs = qs.order_by(*([f"-{field}", "-pk"] if descending else [field, "pk"]))[
        : selectors.PAGE_SIZE + 1
    ]
    return qs.query.sql_with_params()


def raw_page(request: HttpRequest) -> HttpResponse:
    """The same 24 rows as the catalogue page, by its own SQL, as plain text: the baseline."""
    sql, params = raw_sql(request.get_full_path())
    with connection.cursor() as db:
        db.execute(sql, params)
        rows = db.fetchall()
    return HttpResponse("\n".join(repr(row) for row in rows), content_type="text/plain")


urlpatterns = [path("bench/raw-page/", raw_page), path("", include("project.urls"))]
