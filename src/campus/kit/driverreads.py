"""Hot reads on PostgreSQL straight through the driver (asyncpg), with SQLAlchemy's SQL.

The profile of a list request under load (docs/performance.md, issue 20) puts about 29%
of the server's CPU in SQLAlchemy's execution layer between a built statement and the
driver: the compiled cache lookup, the cursor adaptation, the greenlet bridge of every
call, the result's row processing. For a read-only request on PostgreSQL (its
connection in autocommit, see ``campus.db.READ_ONLY_AUTOCOMMIT``) this module runs a
statement built once (the repositories' cached ``Select`` objects) as the SQL text
SQLAlchemy compiles for it, on the same pooled connection, with asyncpg's prepared
statement: the statement, its visibility scoping and its values stay the repository's;
only the path to the driver is shorter. Each statement is compiled once per dialect.

Bind and result values go through the same type processors SQLAlchemy would apply, so a
row is what ``connection.execute(stmt, values).all()`` returns. Anything else (SQLite,
a connection inside a transaction, a statement with expanding parameters) takes the
ordinary SQLAlchemy path, and so does the retry of a read that failed in the driver, so
that database faults are classified by the engine's handlers as before (a lost server is
still a 503).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from sqlalchemy import inspect
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.sql import Select
from sqlalchemy.sql.elements import ColumnElement

E = TypeVar("E")


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    names: tuple[str, ...]
    defaults: dict[str, Any]  # the values the statement itself binds (literals)
    binds: tuple[Callable[[Any], Any] | None, ...]
    results: tuple[tuple[int, Callable[[Any], Any]], ...]


# Statements compiled for the driver, by identity: only statements built once (cached by
# their modules) should come here. Bounded all the same.
_COMPILED: dict[tuple[int, str], tuple[Select[Any], _Compiled | None]] = {}
_COMPILED_MAX = 2048


def _single(processor: Any) -> Callable[[Any], Any] | None:
    """A bind processor (tuple-valued parameters are never compiled for the driver)."""
    return processor if callable(processor) else None


def _compile(stmt: Select[Any], dialect: Dialect) -> _Compiled | None:
    key = (id(stmt), dialect.name)
    cached = _COMPILED.get(key)
    if cached is not None and cached[0] is stmt:
        return cached[1]
    compiled = stmt.compile(dialect=dialect)
    sql = str(compiled)
    names = tuple(compiled.positiontup or ())
    compiled_for_driver: _Compiled | None = None
    processors = compiled._bind_processors
    plain = all(p is None or callable(p) for p in processors.values())
    defaults = {}
    for name in names:
        bind = compiled.binds[name]
        if bind.callable is not None:
            plain = False
        elif not bind.required:
            defaults[name] = bind.value
    if (
        plain and "POSTCOMPILE" not in sql and not compiled.literal_execute_params
    ):  # SQLAlchemy's own processors
        results = []
        for index, column in enumerate(stmt.selected_columns):
            processor = column.type._cached_result_processor(dialect, None)
            if processor is not None:
                results.append((index, processor))
        compiled_for_driver = _Compiled(
            sql=sql,
            names=names,
            defaults=defaults,
            binds=tuple(_single(processors.get(name)) for name in names),
            results=tuple(results),
        )
    if len(_COMPILED) >= _COMPILED_MAX:
        _COMPILED.clear()
    # Keep the statement referenced: ids are unique only while their objects live (the
    # statements passed here are built once and cached by their modules).
    _COMPILED[key] = (stmt, compiled_for_driver)
    return compiled_for_driver


async def fetch_rows(
    connection: AsyncConnection, stmt: Select[Any], values: Mapping[str, Any]
) -> Sequence[Sequence[Any]]:
    """The rows of ``stmt`` with ``values``, as ``(await connection.execute(stmt,
    values)).all()`` returns them; through the driver when that is safe (see the module)."""
    compiled = None
    raw = None
    if connection.dialect.driver == "asyncpg":
        raw = await connection.get_raw_connection()
        if getattr(raw.dbapi_connection, "autocommit", False):
            compiled = _compile(stmt, connection.dialect)
    if compiled is None or raw is None:
        return list((await connection.execute(stmt, values)).all())
    params = []
    for name, process in zip(compiled.names, compiled.binds, strict=True):
        value = values[name] if name in values else compiled.defaults[name]
        params.append(process(value) if process is not None else value)
    driver: Any = raw.driver_connection
    try:
        records = await driver.fetch(compiled.sql, *params)
    except Exception:  # the engine's path classifies the fault (and may recover)
        return list((await connection.execute(stmt, values)).all())
    if not compiled.results:
        return [tuple(record) for record in records]
    rows = []
    for record in records:
        row = list(record)
        for index, process in compiled.results:
            row[index] = process(row[index])
        rows.append(tuple(row))
    return rows


@dataclass(frozen=True, slots=True)
class _Loadable:
    mapper: Any
    names: tuple[str, ...]  # attribute keys, in the order of ``columns``
    columns: tuple[ColumnElement[Any], ...]
    primary_key: tuple[int, ...]  # positions of the primary key's columns


_LOADABLE: dict[type[Any], _Loadable] = {}


def _loadable(entity: type[Any]) -> _Loadable:
    found = _LOADABLE.get(entity)
    if found is None:
        mapper = inspect(entity)
        props = mapper.column_attrs
        columns = tuple(prop.columns[0] for prop in props)
        found = _LOADABLE[entity] = _Loadable(
            mapper=mapper,
            names=tuple(prop.key for prop in props),
            columns=columns,
            primary_key=tuple(i for i, column in enumerate(columns) if column.primary_key),
        )
    return found


def loaded_columns(entity: type[Any]) -> list[ColumnElement[Any]]:
    """The columns to select for :func:`attach_loaded` (all of ``entity``'s, in its order)."""
    return list(_loadable(entity).columns)


def attach_loaded(session: AsyncSession, entity: type[E], values: Sequence[Any]) -> E:
    """The persistent ``entity`` in ``session`` whose columns are ``values`` (a row of
    :func:`loaded_columns`), as a query for it would return it, without the ORM's query
    and loading machinery: an instance already in the session's identity map is returned
    as it is (the ORM does the same); otherwise a new instance gets the values as its
    loaded state (no pending changes: a flush writes only what is changed later) and is
    added to the session. Relationships load lazily as usual."""
    loadable = _loadable(entity)
    mapper = loadable.mapper
    key = mapper.identity_key_from_primary_key([values[i] for i in loadable.primary_key])
    existing = session.sync_session.identity_map.get(key)
    if existing is not None:
        return cast(E, existing)
    instance = mapper.class_manager.new_instance()
    inspect(instance).dict.update(zip(loadable.names, values, strict=True))
    make_transient_to_detached(instance)
    session.add(instance)
    return cast(E, instance)
