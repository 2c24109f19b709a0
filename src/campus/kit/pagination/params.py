"""``skip``, ``limit``, ``sort`` and ``cursor`` validated into a plain :class:`PageParams`.

The sort is parsed against a per-list allow-list; the order is made total later by the
id as the last key (:mod:`.statements`). API lists get their parameters through
``campus.http.deps.page_params``, pages through :func:`numbered_page`; both end here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from campus.errors import ValidationFailed
from campus.kit.pagination.cursor import CursorCodec, Keyset, bad_cursor

MAX_LIMIT = 100
DEFAULT_LIMIT = 20
MAX_SKIP = 2**31 - 1


@dataclass(frozen=True, slots=True)
class SortKey:
    field: str
    descending: bool


@dataclass(frozen=True, slots=True)
class PageParams:
    """One page of a list: where it starts, how many rows, in which order.

    ``keyset``: continue after a cursor's row instead of skipping ``skip`` rows (``skip``
    is then the cursor's offset, for ``page``). ``cursors``: the result carries where the
    next page starts (:attr:`.envelope.PageResult.next_keyset`), for ``next_cursor``.
    """

    skip: int = 0
    limit: int = DEFAULT_LIMIT
    sort: tuple[SortKey, ...] = ()
    keyset: Keyset | None = None
    cursors: bool = False


def sort_spec(sort: tuple[SortKey, ...]) -> str:
    """``"-created_at,title"``: the sort order as a cursor records it."""
    return ",".join(("-" if key.descending else "") + key.field for key in sort)


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
) -> PageParams:
    """Validated page parameters; any bad value is a 422 naming the query parameter.

    With a ``codec`` the list takes ``cursor`` (checked and decoded here) and its result
    reports where the next page starts; without one, a ``cursor`` is refused.
    """
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
            raise bad_cursor("This list does not take a cursor.")
        keyset = codec.decode(cursor)
        if (
            keyset.sort != sort_spec(keys)
            or len(keyset.values) != len(keys) + 1
            or keyset.offset < 0
        ):
            raise bad_cursor("The cursor belongs to another sort order; start again without it.")
    return PageParams(
        skip=keyset.offset if keyset is not None else skip,
        limit=limit,
        sort=keys,
        keyset=keyset,
        cursors=codec is not None,
    )


def numbered_page(
    number: int, *, size: int, sort: str | None, allowed: Sequence[str], default: str
) -> PageParams:
    """Page ``number`` (1-based) of ``size`` rows, as a page module shows a list.

    The same validation as an API list (a number below 1 is a 422 on ``skip``); no cursor.
    """
    return make_page_params(
        skip=(number - 1) * size, limit=size, sort=sort, allowed=allowed, default=default
    )
