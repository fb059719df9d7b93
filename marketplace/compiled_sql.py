"""SQL the ORM compiles once and the app runs again with new parameters.

On a hot page, building a queryset and compiling it costs more than the query takes to run
(bench/catalogue_page.py, bench/listing_page.py): some 20 expression objects and the compiler's
passes over them, for SQL text that is the same on every request, only the parameters change.
These helpers keep the ORM as the author of the SQL and skip it on later requests: the parameters
are prepared as the ORM prepares them (``prep``), the ORM's converters are applied to the rows
(``convert``), and ``ByValue`` checks, when it compiles, that the only parameters that move with
the value are the value itself. Only SQL text is kept: every request still reads the database.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from django.core.exceptions import EmptyResultSet, FullResultSet
from django.db import connections, router
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Field, Model, QuerySet
from django.db.models.sql.compiler import SQLCompiler

logger = logging.getLogger(__name__)

Converters = tuple[tuple[int, tuple[Any, ...], Any], ...]  # (column, converters, expression)


class Unshaped(Exception):
    """A value the ORM would turn into SQL of another shape (Django drops a comparison with an
    integer its column cannot hold): such a request is left to the ORM."""


def prep(model: type[Model], name: str, value: Any, connection: BaseDatabaseWrapper) -> Any:
    """``value`` as the ORM passes it to ``connection`` in a comparison with ``model.name``."""
    field = cast("Field[Any, Any]", model._meta.get_field(name))
    internal = field.get_internal_type()
    if isinstance(value, int) and internal in connection.ops.integer_field_ranges:
        low, high = connection.ops.integer_field_range(internal)
        if (low is not None and value < low) or (high is not None and value > high):
            raise Unshaped(name)
    return field.get_db_prep_value(value, connection)


def converters_of(compiler: SQLCompiler) -> Converters:
    """The converters the ORM applies to the rows of ``compiler``'s query (call after as_sql)."""
    found = compiler.get_converters([s[0] for s in compiler.select[: compiler.col_count]])
    return tuple((pos, tuple(convs), expr) for pos, (convs, expr) in found.items())


def convert(
    rows: Sequence[Sequence[Any]], converters: Converters, connection: BaseDatabaseWrapper
) -> list[tuple[Any, ...]]:
    """``rows`` as tuples, with the ORM's converters applied (SQLite's datetimes and booleans,
    the int/float of an aggregate...)."""
    if not converters:
        return [tuple(row) for row in rows]
    out = []
    for row in rows:
        values = list(row)
        for pos, convs, expression in converters:
            value = values[pos]
            for conv in convs:
                value = conv(value, expression, connection)
            values[pos] = value
        out.append(tuple(values))
    return out


def same_params(a: Sequence[Any], b: Sequence[Any]) -> bool:
    """Equal and of the same types (``Int8(1) == 1``, but psycopg binds them differently)."""
    return len(a) == len(b) and all(
        type(x) is type(y) and x == y for x, y in zip(a, b, strict=True)
    )


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    params: tuple[Any, ...]
    slots: tuple[int, ...]  # where the value goes
    converters: Converters
    compiler: SQLCompiler
    fetch_mode: Any
    alias: str
    models: bool  # whether ``first`` may build its instances (see ``_plain_models``)


class ByValue:
    """The queryset ``build(value)``, whose only parameter that varies is ``value`` (an int or a
    string) compared with ``model.field``: compiled by the ORM once per database, then run with
    each value.

    When it compiles, it compiles for two values and keeps the SQL only if the text is the same
    and the parameters differ exactly where the value is; otherwise (and for a value the ORM would
    compile differently, see ``Unshaped``) the ORM runs the queryset itself."""

    def __init__(
        self, build: Callable[[Any], QuerySet[Any, Any]], model: type[Model], field: str
    ) -> None:
        self.build, self.model, self.field = build, model, field
        self._compiled: dict[str, _Compiled | None] = {}

    def _compile(self, value: int | str, alias: str) -> _Compiled | None:
        connection = connections[alias]
        other: int | str
        if isinstance(value, str):
            other = value + "_"
        else:
            other = value + 1 if value < 2**31 else value - 1
        compiled = []
        for probe in (value, other):
            compiler = self.build(probe).query.get_compiler(using=alias)
            try:
                sql, params = compiler.as_sql()
            except (EmptyResultSet, FullResultSet):
                return None
            compiled.append((sql, tuple(params), compiler))
        (sql, params, compiler), (other_sql, other_params, _) = compiled
        if len(params) != len(other_params):
            return None
        slots = tuple(
            i for i, (a, b) in enumerate(zip(params, other_params, strict=True)) if a != b
        )
        ours = list(params)
        for i in slots:
            ours[i] = prep(self.model, self.field, other, connection)
        if (
            sql != other_sql
            or not slots
            or not same_params(ours, other_params)
            or not same_params([params[i] for i in slots], [self._prep(value, alias)] * len(slots))
        ):
            logger.error("compiled SQL: %s left to the ORM", getattr(self.build, "__name__", ""))
            return None
        fetch_mode = getattr(self.build(value), "_fetch_mode", None)
        return _Compiled(
            sql,
            params,
            slots,
            converters_of(compiler),
            compiler,
            fetch_mode,
            alias,
            _plain_models(compiler),
        )

    def _prep(self, value: Any, alias: str) -> Any:
        return prep(self.model, self.field, value, connections[alias])

    def _run(
        self, value: int | str, *, models: bool = False
    ) -> tuple[_Compiled, list[tuple[Any, ...]]] | None:
        """The compiled query and its rows for ``value`` (whose instances ``first`` can build,
        with ``models``), or None: the ORM's turn."""
        alias = router.db_for_read(self.model)
        try:
            param = self._prep(value, alias)
        except Unshaped:
            return None
        if alias not in self._compiled:
            self._compiled[alias] = self._compile(value, alias)
        compiled = self._compiled[alias]
        if compiled is None or (models and not compiled.models):
            return None
        params = list(compiled.params)
        for i in compiled.slots:
            params[i] = param
        connection = connections[alias]
        with connection.cursor() as cursor:
            cursor.execute(compiled.sql, params)
            rows = cursor.fetchall()
        return compiled, convert(rows, compiled.converters, connection)

    def values(self, value: int | str) -> list[tuple[Any, ...]]:
        """The rows of ``build(value)``, a ``values_list()`` queryset."""
        ran = self._run(value)
        if ran is None:
            return [tuple(row) for row in self.build(value)]
        return ran[1]

    def all(self, value: int | str) -> list[Any]:
        """The model instances of ``build(value)`` (with its ``select_related`` relations and
        annotations, as the ORM builds them)."""
        ran = self._run(value, models=True)
        if ran is None:
            return list(self.build(value))
        compiled, rows = ran
        return [_model_of(compiled, row) for row in rows]

    def first(self, value: int | str) -> Any:
        """The first model instance of ``build(value)`` (sliced ``[:1]``, with its
        ``select_related`` relations and annotations, as the ORM builds it), or None."""
        ran = self._run(value, models=True)
        if ran is None:
            return next(iter(self.build(value)), None)
        compiled, rows = ran
        return _model_of(compiled, rows[0]) if rows else None


def _model_of(compiled: _Compiled, row: tuple[Any, ...]) -> Any:
    """The model instance of one row of ``compiled`` (a query of whole models)."""
    compiler = compiled.compiler
    info = compiler.klass_info
    assert info is not None  # checked by _plain_models
    db = compiled.alias
    obj = _instance(info, row, db, compiled.fetch_mode)
    for rel in info.get("related_klass_infos", []):
        related = _instance(rel, row, db, compiled.fetch_mode)
        related = None if related.pk is None else related  # an outer join that found none
        rel["local_setter"](obj, related)
        if related is not None:
            rel["remote_setter"](related, obj)
    for name, pos in compiler.annotation_col_map.items():
        setattr(obj, name, row[pos])
    return obj


def _columns(info: dict[str, Any], compiler: SQLCompiler) -> list[str]:
    fields = info["select_fields"]
    return [f[0].target.attname for f in compiler.select[fields[0] : fields[-1] + 1]]


def _plain_models(compiler: SQLCompiler) -> bool:
    """Whether the query reads whole models (the main one and its select_related ones, one level
    down), each in its concrete fields' order: what ``ByValue.first`` builds."""
    info = compiler.klass_info
    if info is None or compiler.query.values_select:
        return False
    related = info.get("related_klass_infos", [])
    if any(part.get("related_klass_infos") for part in related):
        return False
    for part in (info, *related):
        fields = part["select_fields"]
        model = part["model"]
        if fields != list(range(fields[0], fields[-1] + 1)):
            return False
        if _columns(part, compiler) != [f.attname for f in model._meta.concrete_fields]:
            return False
    return True


def _instance(info: dict[str, Any], row: tuple[Any, ...], db: str, fetch_mode: Any) -> Any:
    fields = info["select_fields"]
    values = row[fields[0] : fields[-1] + 1]
    model = info["model"]
    names = [f.attname for f in model._meta.concrete_fields]
    if fetch_mode is None:
        return model.from_db(db, names, values)
    return model.from_db(db, names, values, fetch_mode=fetch_mode)


def update_columns(instance: Model, names: Sequence[str]) -> None:
    """``instance.save(update_fields=names)`` as one UPDATE built without the ORM's compiler:
    the values prepared by the fields as ``save`` prepares them (an ``auto_now`` field among
    ``names`` is set to now), no signals sent (none of the models written this way has a
    receiver). For a row the caller holds (locked): nothing checks that one was updated."""
    model = type(instance)
    meta = model._meta
    connection = connections[router.db_for_write(model)]
    fields = [cast("Field[Any, Any]", meta.get_field(name)) for name in names]
    values = [f.get_db_prep_save(f.pre_save(instance, False), connection) for f in fields]
    quote = connection.ops.quote_name
    sql = (
        f"UPDATE {quote(meta.db_table)} SET "  # noqa: S608
        + ", ".join(f"{quote(str(f.column))} = %s" for f in fields)
        + f" WHERE {quote(str(meta.pk.column))} = %s"
    )  # only the model's own quoted identifiers are interpolated; values are parameters
    with connection.cursor() as cursor:
        cursor.execute(sql, [*values, instance.pk])
