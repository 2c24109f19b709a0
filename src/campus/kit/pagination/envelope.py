"""One page's result and the list envelope of API.md §1 it becomes."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, Field

from campus.kit.pagination.cursor import CursorCodec, Keyset
from campus.kit.pagination.params import PageParams, sort_spec

T = TypeVar("T")


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


@dataclass(slots=True)
class PageResult(Generic[T]):
    """One page of rows and the list's total; ``next_keyset`` is where the next page
    starts, when the parameters asked for cursors and there are more rows."""

    items: list[T]
    total: int
    skip: int
    limit: int
    next_keyset: Keyset | None = None

    @property
    def page(self) -> int:
        return self.skip // self.limit + 1

    @property
    def pages(self) -> int:
        return math.ceil(self.total / self.limit) if self.total else 0

    def envelope(self, codec: CursorCodec | None = None) -> dict[str, Any]:
        """The API.md §1 envelope; with a ``codec``, ``next_cursor`` when there is a next
        page (left out on the last one)."""
        envelope: dict[str, Any] = {
            "items": self.items,
            "total": self.total,
            "page": self.page,
            "page_size": self.limit,
            "pages": self.pages,
        }
        if codec is not None and self.next_keyset is not None:
            envelope["next_cursor"] = codec.encode(self.next_keyset)
        return envelope


def page_result(
    items: list[Any], total: int, params: PageParams, last_keys: Sequence[Any] | None
) -> PageResult[Any]:
    """The result of a page of ``items`` out of ``total``; ``last_keys`` are the last row's
    sort values and id (the next cursor's position, when ``params.cursors``)."""
    result: PageResult[Any] = PageResult(
        items=items, total=total, skip=params.skip, limit=params.limit
    )
    shown = params.skip + len(items)
    if params.cursors and items and last_keys is not None and shown < total:
        result.next_keyset = Keyset(
            sort=sort_spec(params.sort), values=tuple(last_keys), offset=shown
        )
    return result
