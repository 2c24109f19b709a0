"""Exact row counts kept by the database itself, so no request counts millions of rows.

Triggers (migration ``0008_row_counts``, on SQLite and PostgreSQL alike) keep:

- ``row_counts``: one row per :class:`Counter` — all users, all courses, published courses.
  The unfiltered admin user list and catalog read their ``total`` here instead of running
  ``COUNT(*)`` over the table.
- ``courses.lessons_count`` and ``courses.students_count`` (active enrollments): the figures
  every course carries in the API, and the total of a course's student list.

A write that changes a count changes it in the same transaction, so every count is exact as
of the transaction that reads it. Bulk loads that bypass triggers (``bench/seed.py`` loads
with PostgreSQL's ``session_replication_role = replica``) call :func:`recount` afterwards.
"""

from __future__ import annotations

import enum
from functools import cache

from sqlalchemy import BigInteger, Select, String, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapped, mapped_column

from campus.db import Base


class Counter(enum.StrEnum):
    USERS = "users"
    COURSES = "courses"
    PUBLISHED_COURSES = "courses_published"


class RowCount(Base):
    __tablename__ = "row_counts"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")


# Portable SQL (SQLite and PostgreSQL): what the triggers maintain, computed from scratch.
RECOUNT: tuple[str, ...] = (
    "UPDATE courses SET "
    "lessons_count = (SELECT count(*) FROM lessons WHERE lessons.course_id = courses.id), "
    "students_count = (SELECT count(*) FROM enrollments "
    "WHERE enrollments.course_id = courses.id AND enrollments.status = 'active')",
    "UPDATE row_counts SET value = (SELECT count(*) FROM users) WHERE name = 'users'",
    "UPDATE row_counts SET value = (SELECT count(*) FROM courses) WHERE name = 'courses'",
    "UPDATE row_counts SET value = (SELECT count(*) FROM courses WHERE is_published) "
    "WHERE name = 'courses_published'",
)


def recount(connection: Connection) -> None:
    """Set every maintained count from the rows themselves (after a load without triggers)."""
    for statement in RECOUNT:
        connection.execute(text(statement))


@cache
def counter_value(counter: Counter) -> Select[int]:
    """``SELECT value FROM row_counts WHERE name = ...``: a total without counting rows."""
    return select(RowCount.value).where(RowCount.name == counter.value)
