"""Small helpers the payouts services share: money labels, Stripe timestamps, an INSERT that
skips rows already recorded."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from marketplace.money import Money


def _money_label(amount: int, currency: str) -> str:
    return Money(amount, currency).format()


def _ts(value: Any) -> datetime | None:
    if value in (None, ""):
        return None
    return datetime.fromtimestamp(int(value), tz=UTC)


def _insert_new_rows(
    *,
    table: str,
    columns: list[str],
    rows: list[list[Any]],
    unique: list[str],
    returning: list[str],
) -> list[tuple[Any, ...]]:
    """INSERT ``rows`` (values in ``columns`` order, ready for the database) in one statement,
    skipping those whose ``unique`` columns are already recorded (or recorded concurrently: the
    unique constraint decides; no savepoint needed). Returns ``returning`` of the new rows."""
    from django.db import connection

    quote = connection.ops.quote_name
    row = "(" + ", ".join(["%s"] * len(columns)) + ")"
    sql = (
        f"INSERT INTO {quote(table)} ({', '.join(quote(c) for c in columns)}) "  # noqa: S608
        f"VALUES {', '.join([row] * len(rows))} "
        f"ON CONFLICT ({', '.join(quote(c) for c in unique)}) DO NOTHING "
        f"RETURNING {', '.join(quote(c) for c in returning)}"
    )  # only the models' own quoted identifiers are interpolated; values are parameters
    with connection.cursor() as cursor:
        cursor.execute(sql, [value for values in rows for value in values])
        return list(cursor.fetchall())
