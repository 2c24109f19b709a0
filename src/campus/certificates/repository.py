"""Certificates: SQL only."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import ColumnElement, Select, bindparam, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from campus.kit.pagination.envelope import PageResult
from campus.kit.pagination.params import PageParams
from campus.kit.pagination.statements import ListQuery, fetch_page
from campus.models.accounts import User
from campus.models.certificates import Certificate, CertificateStatus
from campus.models.courses import Course


def _insert(session: AsyncSession) -> Any:
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(Certificate)
    return sqlite.insert(Certificate)


async def names_for(
    session: AsyncSession, *, user_id: int, course_id: int
) -> tuple[str, str, str] | None:
    """(student name, course title, teacher name), in one statement; None if either is gone."""
    teacher = aliased(User)
    stmt = (
        select(User.full_name, Course.title, teacher.full_name)
        .select_from(Course)
        .join(User, User.id == user_id)
        .outerjoin(teacher, teacher.id == Course.teacher_id)
        .where(Course.id == course_id)
    )
    row = (await session.execute(stmt)).first()
    return None if row is None else (row[0], row[1], row[2] or "")


async def insert_if_absent(session: AsyncSession, **values: Any) -> int | None:
    """Insert the certificate unless the student has one for the course: the new id, or
    None (one ``INSERT ... ON CONFLICT DO NOTHING``, so concurrent issues make one row)."""
    stmt = (
        _insert(session)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["user_id", "course_id"])
        .returning(Certificate.id)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def get_by_code(session: AsyncSession, code: str) -> Certificate | None:
    stmt = select(Certificate).where(Certificate.code == code)
    return (
        await session.execute(stmt.execution_options(populate_existing=True))
    ).scalar_one_or_none()


async def get_by_id(session: AsyncSession, certificate_id: int) -> Certificate | None:
    return await session.get(Certificate, certificate_id, populate_existing=True)


SORT_COLUMNS: dict[str, ColumnElement[Any]] = {"issued_at": Certificate.issued_at.expression}
TIE_BREAKER: ColumnElement[int] = Certificate.id.expression


@cache
def _mine_statements() -> tuple[Select[Any], Select[Any]]:
    mine = Certificate.user_id == bindparam("user_id")
    count = select(func.count()).select_from(Certificate).where(mine)
    return select(Certificate).where(mine), count


async def list_of_user(
    session: AsyncSession, *, user_id: int, params: PageParams
) -> PageResult[Certificate]:
    """One page of the user's own certificates and the total."""
    page, count = _mine_statements()
    query = ListQuery(page=page, count=count, values={"user_id": user_id}, shape=("certificates",))
    return await fetch_page(
        session, query, params, sort_columns=SORT_COLUMNS, tie_breaker=TIE_BREAKER
    )


async def revoke(
    session: AsyncSession,
    *,
    now: datetime,
    reason: str,
    certificate_id: int | None = None,
    user_id: int | None = None,
    course_id: int | None = None,
) -> list[int]:
    """Revoke the valid certificate(s) matched (by id, or by student and course); the ids
    changed. A conditional UPDATE: of two concurrent revocations, one changes the row."""
    stmt = update(Certificate).where(Certificate.status == CertificateStatus.VALID)
    if certificate_id is not None:
        stmt = stmt.where(Certificate.id == certificate_id)
    else:
        stmt = stmt.where(Certificate.user_id == user_id, Certificate.course_id == course_id)
    stmt = stmt.values(
        status=CertificateStatus.REVOKED, revoked_at=now, revoked_reason=reason
    ).returning(Certificate.id)
    return list((await session.execute(stmt)).scalars().all())
