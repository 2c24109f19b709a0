"""campus.kit.search: the Unicode-aware, wildcard-safe substring match used by task search."""

from __future__ import annotations

from sqlalchemy import literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from campus.kit.search import contains_ci, escape_like, fold


def test_escape_like() -> None:
    assert escape_like("100%") == "100\\%"
    assert escape_like("a_b") == "a\\_b"
    assert escape_like("C:\\x") == "C:\\\\x"
    assert escape_like("plain") == "plain"


async def test_fold_and_contains_ci_in_sql(session: AsyncSession) -> None:
    assert await session.scalar(select(fold(literal("ÄÖÜ Привет")))) == "äöü привет"
    cases = [
        ("Grüße aus KÖLN", "köln", True),
        ("Grüße aus KÖLN", "GRÜ", True),
        ("ПРИВЕТ мир", "привет", True),
        ("50% off", "0%", True),
        ("500 off", "0%", False),
        ("a_b", "_", True),
        ("ab", "_", False),
        ("", "x", False),
    ]
    for text, query, expected in cases:
        matched = await session.scalar(select(contains_ci(literal(text), query)))
        assert bool(matched) is expected, (text, query)
    assert await session.scalar(select(contains_ci(literal(None), "x"))) is None
