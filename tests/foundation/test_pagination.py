"""The pagination pieces on their own: cursor codec, parameters, envelope."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from campus.errors import ValidationFailed
from campus.kit.pagination.cursor import CursorCodec, Keyset
from campus.kit.pagination.envelope import PageResult, page_result
from campus.kit.pagination.params import SortKey, make_page_params, numbered_page, sort_spec

ALLOWED = ("created_at", "title")


def _cursor_errors(exc: pytest.ExceptionInfo[ValidationFailed]) -> list[object]:
    return [error["loc"] for error in exc.value.errors]


def test_codec_round_trips_every_value_type() -> None:
    codec = CursorCodec("a" * 40)
    values = (
        None,
        True,
        7,
        datetime(2026, 1, 2, 3, 4, tzinfo=UTC),
        date(2026, 1, 2),
        Decimal("1.50"),
        "é",
    )
    keyset = Keyset(sort="-created_at,title", values=values, offset=40)
    assert codec.decode(codec.encode(keyset)) == keyset


def test_codec_refuses_edited_and_foreign_tokens() -> None:
    codec = CursorCodec("a" * 40)
    token = codec.encode(Keyset(sort="title", values=("x", 1), offset=1))
    body, _, signature = token.partition(".")
    for bad in ("", ".", "garbage", body, f"{body}.", f"{body}x.{signature}"):
        with pytest.raises(ValidationFailed) as exc:
            codec.decode(bad)
        assert _cursor_errors(exc) == [["query", "cursor"]]
    with pytest.raises(ValidationFailed):
        CursorCodec("b" * 40).decode(token)


def test_cursor_values_must_be_plain() -> None:
    codec = CursorCodec("a" * 40)
    with pytest.raises(TypeError):
        codec.encode(Keyset(sort="title", values=(object(), 1), offset=1))


def test_params_decode_a_cursor_for_the_same_sort_only() -> None:
    codec = CursorCodec("a" * 40)
    token = codec.encode(Keyset(sort="-created_at", values=("2026-01-01", 3), offset=20))
    params = make_page_params(
        skip=0,
        limit=20,
        sort=None,
        allowed=ALLOWED,
        default="-created_at",
        cursor=token,
        codec=codec,
    )
    assert params.skip == 20
    assert params.keyset is not None
    assert params.keyset.values == ("2026-01-01", 3)
    assert params.cursors
    for sort in ("title", "-created_at,title"):
        with pytest.raises(ValidationFailed) as exc:
            make_page_params(
                skip=0, limit=20, sort=sort, allowed=ALLOWED, default="", cursor=token, codec=codec
            )
        assert _cursor_errors(exc) == [["query", "cursor"]]
    with pytest.raises(ValidationFailed):  # a list without a codec takes no cursor
        make_page_params(
            skip=0, limit=20, sort=None, allowed=ALLOWED, default="title", cursor=token
        )


def test_numbered_page_is_validated_like_the_api() -> None:
    params = numbered_page(3, size=12, sort="-title", allowed=ALLOWED, default="created_at")
    assert (params.skip, params.limit, params.sort) == (24, 12, (SortKey("title", True),))
    assert not params.cursors
    assert params.keyset is None
    assert numbered_page(1, size=5, sort=None, allowed=ALLOWED, default="title").sort == (
        SortKey("title", False),
    )
    for number, size in ((0, 10), (1, 0), (1, 101), (2**31, 10)):
        with pytest.raises(ValidationFailed):
            numbered_page(number, size=size, sort=None, allowed=ALLOWED, default="title")
    with pytest.raises(ValidationFailed):
        numbered_page(1, size=10, sort="secret", allowed=ALLOWED, default="title")


def test_envelope_carries_next_cursor_only_with_a_codec_and_more_rows() -> None:
    codec = CursorCodec("a" * 40)
    params = make_page_params(
        skip=0, limit=2, sort="title", allowed=ALLOWED, default="", codec=codec
    )
    middle = page_result(["a", "b"], 5, params, ("b", 9))
    assert middle.next_keyset == Keyset(sort=sort_spec(params.sort), values=("b", 9), offset=2)
    envelope = middle.envelope(codec)
    assert (envelope["page"], envelope["pages"], envelope["page_size"]) == (1, 3, 2)
    assert codec.decode(envelope["next_cursor"]) == middle.next_keyset
    assert "next_cursor" not in middle.envelope()
    last = page_result(
        ["e"],
        5,
        make_page_params(skip=4, limit=2, sort="title", allowed=ALLOWED, default="", codec=codec),
        ("e", 11),
    )
    assert last.next_keyset is None
    assert set(last.envelope(codec)) == {"items", "total", "page", "page_size", "pages"}
    plain = numbered_page(1, size=2, sort="title", allowed=ALLOWED, default="")
    assert page_result(["a", "b"], 5, plain, ("b", 9)).next_keyset is None
    empty: PageResult[str] = PageResult(items=[], total=0, skip=0, limit=20)
    assert (empty.page, empty.pages) == (1, 0)
