"""A list's statements for one page, built from :class:`~.params.PageParams`, and the
helper a repository runs them with.

The page statement is the list's statement ordered by the requested keys with the id as
the final tie-breaker (a total, repeatable order), positioned by ``OFFSET`` or, with a
cursor, by ``WHERE (keys) > (last keys)`` (as fast on page 50,000 as on page 1), and
limited. The count is a separate statement. Limit, offset and cursor values are bound
parameters, so a statement built once serves every request of its shape and sort order.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from sqlalchemy import Integer, Select, and_, bindparam, func, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from campus.kit.driverreads import fetch_rows
from campus.kit.pagination.cursor import Keyset
from campus.kit.pagination.envelope import PageResult, page_result
from campus.kit.pagination.params import PageParams

# Any SELECT, whatever its columns; sort columns may be mapped attributes or expressions.
AnySelect: TypeAlias = Select[*tuple[Any, ...]]
SortColumns: TypeAlias = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class ListQuery:
    """A list's statements and the values this request binds to them.

    ``page`` selects the rows (unordered, unlimited); ``count`` counts them (``None``:
    ``SELECT count(*)`` over ``page``). ``shape`` names what the statements depend on
    (whose visibility, which filters are present) when they are built once per shape: the
    page statement derived from them is then cached per shape and sort order too. Building
    a statement and computing its cache key is a measurable share of a list request;
    executing a statement built before costs neither (docs/performance.md).
    """

    page: AnySelect
    count: AnySelect | None = None
    values: Mapping[str, Any] = field(default_factory=dict)
    shape: Hashable | None = None


def order_by_clauses(
    params: PageParams,
    columns: SortColumns,
    tie_breaker: Any,
) -> list[ColumnElement[Any]]:
    """ORDER BY for the requested keys, then the id in the direction of the last key."""
    clauses: list[ColumnElement[Any]] = []
    last_desc = False
    for key in params.sort:
        column = columns[key.field]
        clauses.append(column.desc() if key.descending else column.asc())
        last_desc = key.descending
    clauses.append(tie_breaker.desc() if last_desc else tie_breaker.asc())
    return clauses


def _after(params: PageParams, columns: Sequence[Any]) -> ColumnElement[bool]:
    """Rows strictly after the cursor's row in the order of ``order_by_clauses``.

    The cursor's values are bound parameters ``_after_0`` ... (see :func:`page_values`),
    so the statement is the same for every cursor of one sort order.
    """
    directions = [key.descending for key in params.sort]
    directions.append(directions[-1] if directions else False)
    bounds = [
        bindparam(f"_after_{i}", type_=getattr(column, "type", None))
        for i, column in enumerate(columns)
    ]
    if len(set(directions)) == 1:  # one direction: a row-value comparison, index-friendly
        row = tuple_(*columns)
        bound = tuple_(*bounds)
        return row < bound if directions[0] else row > bound
    alternatives = []
    for i, column in enumerate(columns):
        equal = [columns[j] == bounds[j] for j in range(i)]
        beyond = column < bounds[i] if directions[i] else column > bounds[i]
        alternatives.append(and_(*equal, beyond))
    return or_(*alternatives)


def _keyset_values(keyset: Keyset) -> dict[str, Any]:
    return {f"_after_{i}": value for i, value in enumerate(keyset.values)}


def count_statement(query: ListQuery, tie_breaker: Any) -> AnySelect:
    """The query's count: its own, or ``SELECT count(*)`` over its rows."""
    if query.count is not None:
        return query.count
    return select(func.count()).select_from(
        query.page.order_by(None).with_only_columns(tie_breaker).subquery()
    )


# Page statements derived from a list's statement, per shape (see ``ListQuery``).
# Bounded: shapes are finite (filters present x sort order), but never trust that blindly.
_PAGE_STATEMENTS: dict[Hashable, AnySelect] = {}
_PAGE_STATEMENTS_MAX = 4096


def page_statement(
    stmt: AnySelect,
    params: PageParams,
    *,
    sort_columns: SortColumns,
    tie_breaker: Any,
    shape: Hashable | None,
) -> AnySelect:
    """``stmt`` ordered, limited and positioned (offset or keyset), all values bound
    (:func:`page_values`). With ``params.cursors`` the sort keys ride along as extra
    columns after ``stmt``'s own, for the next cursor."""
    key = None
    if shape is not None:
        key = (shape, params.sort, params.keyset is not None, params.cursors)
        cached = _PAGE_STATEMENTS.get(key)
        if cached is not None:
            return cached
    key_columns = [sort_columns[k.field] for k in params.sort] + [tie_breaker]
    page_stmt = stmt.order_by(*order_by_clauses(params, sort_columns, tie_breaker)).limit(
        bindparam("_page_limit", type_=Integer)
    )
    if params.keyset is not None:
        page_stmt = page_stmt.where(_after(params, key_columns))
    else:
        page_stmt = page_stmt.offset(bindparam("_page_offset", type_=Integer))
    if params.cursors:
        page_stmt = page_stmt.add_columns(
            *(column.label(f"_cursor_{i}") for i, column in enumerate(key_columns))
        )
    if key is not None:
        if len(_PAGE_STATEMENTS) >= _PAGE_STATEMENTS_MAX:
            _PAGE_STATEMENTS.clear()
        _PAGE_STATEMENTS[key] = page_stmt
    return page_stmt


# How many items a row of a list's statement carries, per shape: computing
# ``column_descriptions`` is a walk over the statement's columns on every request otherwise.
_WIDTHS: dict[Hashable, int] = {}
_WIDTHS_MAX = 4096


def row_width(stmt: AnySelect, shape: Hashable | None) -> int:
    """The number of items of a row of ``stmt`` (an entity counts once, unlike in
    ``selected_columns``): the columns before the cursor's ones."""
    if shape is None:
        return len(stmt.column_descriptions)
    width = _WIDTHS.get(shape)
    if width is None:
        width = len(stmt.column_descriptions)
        if len(_WIDTHS) >= _WIDTHS_MAX:
            _WIDTHS.clear()
        _WIDTHS[shape] = width
    return width


def page_values(params: PageParams, values: Mapping[str, Any]) -> dict[str, Any]:
    """The values a page statement binds: the query's own, then limit and offset or cursor."""
    bound = dict(values)
    bound["_page_limit"] = params.limit
    if params.keyset is not None:
        bound.update(_keyset_values(params.keyset))
    else:
        bound["_page_offset"] = params.skip
    return bound


async def fetch_page(
    session: AsyncSession,
    query: ListQuery,
    params: PageParams,
    *,
    sort_columns: SortColumns,
    tie_breaker: Any,
    scalars: bool = True,
    core: bool = False,
) -> PageResult[Any]:
    """Run one page of ``query`` and its total on the repository's ``session``: two
    statements (the count, then the page unless it is past the end).

    ``scalars``: items are the rows' first column (an entity); otherwise the rows'
    ``query.page`` columns. ``core``: the statements select columns, not ORM entities, and
    run with SQLAlchemy Core on the session's connection (rows come back as tuples, without
    the ORM's loading).
    """
    page_stmt = page_statement(
        query.page, params, sort_columns=sort_columns, tie_breaker=tie_breaker, shape=query.shape
    )
    width = row_width(query.page, query.shape)
    rows: Sequence[Sequence[Any]]
    if core and query.shape is not None and query.count is not None:
        # Column reads of statements built once per shape: straight through the driver
        # when that is safe (campus.kit.driverreads).
        connection = await session.connection()
        counted = await fetch_rows(connection, count_statement(query, tie_breaker), query.values)
        total = int(counted[0][0])
        if total == 0 or params.skip >= total:
            return page_result([], total, params, None)
        rows = await fetch_rows(connection, page_stmt, page_values(params, query.values))
    else:
        executor: Any = await session.connection() if core else session
        count = count_statement(query, tie_breaker)
        total = int((await executor.execute(count, query.values)).scalar_one())
        if total == 0 or params.skip >= total:
            return page_result([], total, params, None)
        rows = (await executor.execute(page_stmt, page_values(params, query.values))).all()
    items: list[Any] = [row[0] for row in rows] if scalars else [row[:width] for row in rows]
    return page_result(items, total, params, rows[-1][width:] if rows and params.cursors else None)
