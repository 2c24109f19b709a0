"""Text helpers for search that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

import unicodedata

SEARCH_SEPARATOR = "\n"


def fold(text: str) -> str:
    """Unicode case folding after NFKC normalisation: ``"ОСНОВЫ"`` and ``"основы"`` match.

    Databases fold case differently (SQLite's ``lower``/``LIKE`` handle ASCII only,
    PostgreSQL's depend on the database's locale), so searchable text is folded here, in
    Python, both when it is stored and when it is searched for.
    """
    return unicodedata.normalize("NFKC", text).casefold()


def search_document(*parts: str | None) -> str:
    """The folded text a search matches against, its parts kept apart by a newline."""
    return SEARCH_SEPARATOR.join(fold(part) for part in parts if part)


def like_contains(term: str, escape: str = "\\") -> str:
    """A LIKE pattern matching ``term`` anywhere, with ``%``, ``_`` and the escape literal."""
    escaped = (
        term.replace(escape, escape + escape).replace("%", escape + "%").replace("_", escape + "_")
    )
    return f"%{escaped}%"
