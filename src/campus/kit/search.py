"""Case-insensitive substring search that behaves the same on SQLite and PostgreSQL.

SQLite's ``lower()`` and ``LIKE`` fold ASCII letters only, so "ÄPFEL" would never find
"äpfel". :func:`campus.db.create_engine` registers a deterministic Python ``casefold`` SQL
function on every SQLite connection; :class:`fold` compiles to it on SQLite and to
``lower()`` elsewhere (PostgreSQL folds non-ASCII text by the database's ``LC_CTYPE``).
Both the column and the pattern go through the same fold, in SQL, so they always agree.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnExpressionArgument, String, literal
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import GenericFunction

SQLITE_CASEFOLD_FUNCTION = "casefold"
LIKE_ESCAPE = "\\"


def sqlite_casefold(value: Any) -> Any:
    """The Python side of the SQLite ``casefold`` function (NULL and non-text pass through)."""
    return value.casefold() if isinstance(value, str) else value


class fold(GenericFunction[str]):  # noqa: N801 - reads like the SQL function it renders
    """``casefold(x)`` on SQLite, ``lower(x)`` elsewhere."""

    type = String()
    inherit_cache = True
    name = "campus_fold"


@compiles(fold)
def _fold_default(element: fold, compiler: SQLCompiler, **kw: Any) -> str:
    return f"lower({compiler.process(element.clauses, **kw)})"


@compiles(fold, "sqlite")
def _fold_sqlite(element: fold, compiler: SQLCompiler, **kw: Any) -> str:
    return f"{SQLITE_CASEFOLD_FUNCTION}({compiler.process(element.clauses, **kw)})"


def escape_like(text: str) -> str:
    """Escape LIKE wildcards so ``%`` and ``_`` in user input match themselves."""
    return (
        text.replace(LIKE_ESCAPE, LIKE_ESCAPE * 2)
        .replace("%", LIKE_ESCAPE + "%")
        .replace("_", LIKE_ESCAPE + "_")
    )


def contains_ci(column: ColumnExpressionArgument[Any], text: str) -> ColumnElement[bool]:
    """``column`` contains ``text``, case-insensitively (Unicode-aware on both databases)."""
    pattern = literal("%" + escape_like(text) + "%", String())
    return fold(column).like(fold(pattern), escape=LIKE_ESCAPE)
