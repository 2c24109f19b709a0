"""One pagination and sorting helper that every list endpoint uses.

``skip``/``limit`` are validated, ``sort`` is parsed against a per-endpoint allow-list,
the order is always made stable with the id as the last key, and the total is counted in
SQL. The result is the envelope of API.md §1.

Keyset pagination: every page that has more rows carries ``next_cursor``, an opaque token
holding the sort keys of its last row (and the offset, so ``page`` stays right). Passing it
back as ``cursor`` continues *after* that row with ``WHERE (keys) > (last keys)`` instead
of ``OFFSET``, which costs the same on page 1 and page 50,000. The token is signed
(HMAC-SHA256 with a key derived from the secret key) so it cannot be forged or edited; a
bad or foreign token, or one made for another sort order, is a 422.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import math
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any, Generic, TypeAlias, TypeVar

from pydantic import BaseModel, Field
from sqlalchemy import Integer, Select, and_, bindparam, func, or_, select, tuple_
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
class Keyset:
    """Where a cursor continues: the last row's sort values and id, and the next offset."""

    values: tuple[Any, ...]
    offset: int


class CursorCodec:
    """Signs and checks keyset cursors (URL-safe, opaque to clients)."""

    def __init__(self, secret: str) -> None:
        self._key = hashlib.sha256(b"campus-cursor\x00" + secret.encode()).digest()

    def _sign(self, body: bytes) -> str:
        mac = hmac.new(self._key, body, hashlib.sha256).digest()[:16]
        return base64.urlsafe_b64encode(mac).decode().rstrip("=")

    def encode(self, sort: tuple[SortKey, ...], keyset: Keyset) -> str:
        payload = {
            "s": sort_spec(sort),
            "o": keyset.offset,
            "v": [_encode_value(value) for value in keyset.values],
        }
        body = base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode()).rstrip(
            b"="
        )
        return f"{body.decode()}.{self._sign(body)}"

    def decode(self, token: str, sort: tuple[SortKey, ...]) -> Keyset:
        body_text, _, signature = token.partition(".")
        body = body_text.encode()
        if not body or not hmac.compare_digest(self._sign(body), signature):
            raise _bad_cursor("The cursor is not valid. Use next_cursor from a page.")
        try:
            payload = json.loads(base64.urlsafe_b64decode(body + b"=" * (-len(body) % 4)))
            spec, offset = payload["s"], int(payload["o"])
            values = tuple(_decode_value(item) for item in payload["v"])
        except (ValueError, KeyError, TypeError, binascii.Error) as exc:
            raise _bad_cursor("The cursor is not valid. Use next_cursor from a page.") from exc
        if spec != sort_spec(sort) or len(values) != len(sort) + 1 or offset < 0:
            raise _bad_cursor("The cursor belongs to another sort order; start again without it.")
        return Keyset(values=values, offset=offset)


def sort_spec(sort: tuple[SortKey, ...]) -> str:
    return ",".join(("-" if key.descending else "") + key.field for key in sort)


def _bad_cursor(message: str) -> ValidationFailed:
    return ValidationFailed(
        message,
        errors=[{"loc": ["query", "cursor"], "msg": message, "type": "value_error"}],
    )


def _encode_value(value: Any) -> list[Any]:
    if value is None:
        return ["n"]
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, bool):
        return ["b", value]
    if isinstance(value, int):
        return ["i", value]
    if isinstance(value, datetime):
        return ["t", value.isoformat()]
    if isinstance(value, date):
        return ["d", value.isoformat()]
    if isinstance(value, Decimal):
        return ["m", str(value)]
    if isinstance(value, str):
        return ["s", value]
    raise TypeError(f"cannot put a {type(value).__name__} in a cursor")


_DECODERS: dict[str, Callable[[Any], Any]] = {
    "b": bool,
    "i": int,
    "t": datetime.fromisoformat,
    "d": date.fromisoformat,
    "m": Decimal,
    "s": str,
}


def _decode_value(item: list[Any]) -> Any:
    if item[0] == "n":
        return None
    return _DECODERS[item[0]](item[1])


@dataclass(frozen=True, slots=True)
class PageParams:
    skip: int = 0
    limit: int = DEFAULT_LIMIT
    sort: tuple[SortKey, ...] = ()
    # Keyset pagination (set by campus.http.deps.page_params): where to continue, how to
    # sign the next cursor, and how to announce it (the ``Link: rel="next"`` header).
    keyset: Keyset | None = None
    codec: CursorCodec | None = None
    on_next: Callable[[str], None] | None = None


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
    *,
    skip: int,
    limit: int,
    sort: str | None,
    allowed: Sequence[str],
    default: str,
    cursor: str | None = None,
    codec: CursorCodec | None = None,
    on_next: Callable[[str], None] | None = None,
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
    if cursor is not None and skip != 0:
        errors.append(
            {
                "loc": ["query", "skip"],
                "msg": "use either skip or cursor, not both",
                "type": "value_error",
            }
        )
    if errors:
        raise ValidationFailed("Invalid pagination parameters.", errors=errors)
    keys = parse_sort(sort, allowed, default)
    keyset = None
    if cursor is not None:
        if codec is None:
            raise _bad_cursor("This list does not take a cursor.")
        keyset = codec.decode(cursor, keys)
    return PageParams(
        skip=keyset.offset if keyset is not None else skip,
        limit=limit,
        sort=keys,
        keyset=keyset,
        codec=codec,
        on_next=on_next,
    )


class Page(BaseModel, Generic[T]):
    """The list envelope of API.md §1."""

    items: list[T]
    total: int
    page: int
    page_size: int
    pages: int
    next_cursor: str | None = Field(
        default=None,
        exclude_if=lambda value: value is None,
        description=(
            "Pass as `cursor` (with the same `sort` and `limit`) for the next page; null on "
            "the last page. Keyset pagination: as fast deep in the list as on page 1. The "
            'same link is in the `Link: <...>; rel="next"` header. Left out on the last page, '
            "so the envelope is exactly API.md §1's there."
        ),
    )


@dataclass(frozen=True, slots=True)
class ListQuery:
    """A list's statements, built once per ``shape``, and the values this request binds.

    ``shape`` names what the statements depend on (whose visibility, which filters are
    present); the values (ids, filter values) are bound at execution. See ``paginate``.
    """

    page: AnySelect
    count: AnySelect
    values: Mapping[str, Any]
    shape: Hashable


@dataclass(slots=True)
class PageResult(Generic[T]):
    items: list[T]
    total: int
    skip: int
    limit: int
    next_cursor: str | None = None

    @property
    def page(self) -> int:
        return self.skip // self.limit + 1

    @property
    def pages(self) -> int:
        return math.ceil(self.total / self.limit) if self.total else 0

    def envelope(self) -> dict[str, Any]:
        envelope: dict[str, Any] = {
            "items": self.items,
            "total": self.total,
            "page": self.page,
            "page_size": self.limit,
            "pages": self.pages,
        }
        if self.next_cursor is not None:
            envelope["next_cursor"] = self.next_cursor
        return envelope


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

    The cursor's values are bound parameters ``_after_0`` ... (see :func:`_keyset_values`),
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


# Page statements derived from a list's base statement, per shape (see ``paginate``).
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
    """``stmt`` ordered, limited and positioned (offset or keyset), all values bound."""
    key = None
    if shape is not None:
        key = (shape, params.sort, params.keyset is not None, params.codec is not None)
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
    if params.codec is not None:  # the keys ride along as extra columns, for the next cursor
        page_stmt = page_stmt.add_columns(
            *(column.label(f"_cursor_{i}") for i, column in enumerate(key_columns))
        )
    if key is not None:
        if len(_PAGE_STATEMENTS) >= _PAGE_STATEMENTS_MAX:
            _PAGE_STATEMENTS.clear()
        _PAGE_STATEMENTS[key] = page_stmt
    return page_stmt


async def paginate_query(
    session: AsyncSession,
    query: ListQuery,
    params: PageParams,
    *,
    sort_columns: SortColumns,
    tie_breaker: Any,
    scalars: bool = True,
    core: bool = False,
) -> PageResult[Any]:
    """:func:`paginate` for statements built once per shape."""
    return await paginate(
        session,
        query.page,
        params,
        sort_columns=sort_columns,
        tie_breaker=tie_breaker,
        count_stmt=query.count,
        scalars=scalars,
        values=query.values,
        shape=query.shape,
        core=core,
    )


async def paginate(
    session: AsyncSession,
    stmt: AnySelect,
    params: PageParams,
    *,
    sort_columns: SortColumns,
    tie_breaker: Any,
    count_stmt: AnySelect | None = None,
    scalars: bool = True,
    values: Mapping[str, Any] | None = None,
    shape: Hashable | None = None,
    core: bool = False,
) -> PageResult[Any]:
    """Run one page of ``stmt`` and its total, both in SQL.

    ``count_stmt`` may be given when a cheaper count than ``SELECT count(*) FROM (stmt)``
    exists (e.g. without the joins that only feed the columns). With a cursor
    (``params.keyset``) the page continues after the cursor's row instead of skipping.

    The page's limit, offset and cursor values are bound parameters. ``values`` binds the
    parameters of ``stmt`` and ``count_stmt`` themselves. A caller whose statements are
    built once per *shape* (which filters are present, whose visibility) passes that shape:
    the ordered and limited page statement is then built once per shape and sort order too.
    Building a statement and computing its cache key is a measurable share of a list
    request; executing a statement built before costs neither (docs/performance.md).

    ``core``: the statements select columns, not ORM entities, and run with SQLAlchemy Core
    on the session's connection (rows come back as tuples, without the ORM's loading).
    """
    bound = dict(values or {})
    if count_stmt is None:
        count_stmt = select(func.count()).select_from(
            stmt.order_by(None).with_only_columns(tie_breaker).subquery()
        )
    executor: Any = await session.connection() if core else session
    total = int((await executor.execute(count_stmt, bound)).scalar_one())
    if total == 0 or params.skip >= total:
        return PageResult(items=[], total=total, skip=params.skip, limit=params.limit)
    page_stmt = page_statement(
        stmt, params, sort_columns=sort_columns, tie_breaker=tie_breaker, shape=shape
    )
    bound["_page_limit"] = params.limit
    if params.keyset is not None:
        bound.update(_keyset_values(params.keyset))
    else:
        bound["_page_offset"] = params.skip
    width = len(stmt.column_descriptions)  # entities count once, unlike selected_columns
    rows = (await executor.execute(page_stmt, bound)).all()
    items: list[Any] = [row[0] for row in rows] if scalars else [row[:width] for row in rows]
    result = PageResult(items=items, total=total, skip=params.skip, limit=params.limit)
    codec = params.codec
    if codec is not None and rows and params.skip + len(rows) < total:
        keyset = Keyset(values=tuple(rows[-1][width:]), offset=params.skip + len(rows))
        result.next_cursor = codec.encode(params.sort, keyset)
        if params.on_next is not None:
            params.on_next(result.next_cursor)
    return result
