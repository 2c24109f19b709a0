"""One pagination and sorting helper that every list endpoint uses.

``skip``/``limit`` are validated, ``sort`` is parsed against a per-endpoint allow-list,
the order is always made stable with the id as the last key, and the total is counted in
SQL. The result is the envelope of API.md §1.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeAlias, TypeVar

from pydantic import BaseModel
from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from campus.errors import ValidationFailed

T = TypeVar("T")
# Any SELECT, whatever its columns; sort columns may be mapped attributes or expressions.
AnySelect: TypeAlias = Select[*tuple[Any, ...]]
SortColumns: TypeAlias = Mapping[str, Any]

MAX_LIMIT = 100
DEFAULT_LIMIT = 20
MAX_SKIP = 2**31 - 1


@dataclass(frozen=True, slots=True)
class SortKey:
    field: str
    descending: bool


@dataclass(frozen=True, slots=True)
class PageParams:
    skip: int = 0
    limit: int = DEFAULT_LIMIT
    sort: tuple[SortKey, ...] = ()


def parse_sort(raw: str | None, allowed: Sequence[str], default: str) -> tuple[SortKey, ...]:
    """Parse ``"-created_at,title"`` into sort keys; unknown or repeated fields are a 422."""
    text = raw if raw is not None and raw.strip() else default
    keys: list[SortKey] = []
    seen: set[str] = set()
    for part in text.split(","):
        name = part.strip()
        descending = name.startswith("-")
        name = name.lstrip("-+").strip()
        if name not in allowed:
            raise ValidationFailed(
                f"Unknown sort field {name!r}; allowed: {', '.join(allowed)}.",
                errors=[
                    {
                        "loc": ["query", "sort"],
                        "msg": f"unknown sort field {name!r}; allowed: {', '.join(allowed)}",
                        "type": "value_error",
                    }
                ],
            )
        if name in seen:
            continue
        seen.add(name)
        keys.append(SortKey(name, descending))
    return tuple(keys)


def make_page_params(
    *, skip: int, limit: int, sort: str | None, allowed: Sequence[str], default: str
) -> PageParams:
    errors: list[dict[str, Any]] = []
    if skip < 0 or skip > MAX_SKIP:
        errors.append(
            {"loc": ["query", "skip"], "msg": f"must be between 0 and {MAX_SKIP}", "type": "range"}
        )
    if limit < 1 or limit > MAX_LIMIT:
        errors.append(
            {
                "loc": ["query", "limit"],
                "msg": f"must be between 1 and {MAX_LIMIT}",
                "type": "range",
            }
        )
    if errors:
        raise ValidationFailed("Invalid pagination parameters.", errors=errors)
    return PageParams(skip=skip, limit=limit, sort=parse_sort(sort, allowed, default))


class Page(BaseModel, Generic[T]):
    """The list envelope of API.md §1."""

    items: list[T]
    total: int
    page: int
    page_size: int
    pages: int


@dataclass(slots=True)
class PageResult(Generic[T]):
    items: list[T]
    total: int
    skip: int
    limit: int

    @property
    def page(self) -> int:
        return self.skip // self.limit + 1

    @property
    def pages(self) -> int:
        return math.ceil(self.total / self.limit) if self.total else 0

    def envelope(self) -> dict[str, Any]:
        return {
            "items": self.items,
            "total": self.total,
            "page": self.page,
            "page_size": self.limit,
            "pages": self.pages,
        }


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


async def paginate(
    session: AsyncSession,
    stmt: AnySelect,
    params: PageParams,
    *,
    sort_columns: SortColumns,
    tie_breaker: Any,
    count_stmt: AnySelect | None = None,
    scalars: bool = True,
) -> PageResult[Any]:
    """Run one page of ``stmt`` and its total, both in SQL.

    ``count_stmt`` may be given when a cheaper count than ``SELECT count(*) FROM (stmt)``
    exists (e.g. without the joins that only feed the columns).
    """
    if count_stmt is None:
        count_stmt = select(func.count()).select_from(
            stmt.order_by(None).with_only_columns(tie_breaker).subquery()
        )
    total = int((await session.execute(count_stmt)).scalar_one())
    page_stmt = (
        stmt.order_by(*order_by_clauses(params, sort_columns, tie_breaker))
        .offset(params.skip)
        .limit(params.limit)
    )
    if total == 0 or params.skip >= total:
        return PageResult(items=[], total=total, skip=params.skip, limit=params.limit)
    result = await session.execute(page_stmt)
    items = list(result.scalars().all()) if scalars else list(result.all())
    return PageResult(items=items, total=total, skip=params.skip, limit=params.limit)
