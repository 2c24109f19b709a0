"""SQL for notifications. Every statement is scoped to one user."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import (
    JSON,
    ColumnElement,
    Select,
    String,
    bindparam,
    func,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from campus.kit.pagination.envelope import PageResult
from campus.kit.pagination.params import PageParams
from campus.kit.pagination.statements import ListQuery, fetch_page
from campus.kit.types import UTCDateTime
from campus.models.learning import Enrollment, EnrollmentStatus
from campus.models.notifications import Notification
from campus.notifications.schemas import NotificationRow

SORT_COLUMNS: dict[str, ColumnElement[Any]] = {"created_at": Notification.created_at.expression}
TIE_BREAKER: ColumnElement[int] = Notification.id.expression


def list_query(*, user_id: int, unread: bool | None) -> ListQuery:
    page, count = _list_statements(unread)
    return ListQuery(
        page=page, count=count, values={"user_id": user_id}, shape=("notifications", unread)
    )


# The columns of a NotificationRow, in its field order.
ROW_COLUMNS: tuple[ColumnElement[Any], ...] = (
    Notification.id.expression,
    Notification.kind.expression,
    Notification.title.expression,
    Notification.link.expression,
    Notification.data.expression,
    Notification.created_at.expression,
    Notification.read_at.expression,
)


@cache
def _list_statements(unread: bool | None) -> tuple[Select[Any], Select[Any]]:
    conditions: list[ColumnElement[bool]] = [Notification.user_id == bindparam("user_id")]
    if unread is True:
        conditions.append(Notification.read_at.is_(None))
    elif unread is False:
        conditions.append(Notification.read_at.is_not(None))
    page = select(*ROW_COLUMNS).where(*conditions)
    count = select(func.count()).select_from(Notification).where(*conditions)
    return page, count


async def get_own(
    session: AsyncSession, *, user_id: int, notification_id: int
) -> Notification | None:
    stmt = select(Notification).where(
        Notification.id == notification_id, Notification.user_id == user_id
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def mark_all_read(session: AsyncSession, *, user_id: int, now: datetime) -> int:
    result = await session.execute(
        update(Notification)
        .where(Notification.user_id == user_id, Notification.read_at.is_(None))
        .values(read_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def unread_count(session: AsyncSession, *, user_id: int) -> int:
    stmt = (
        select(func.count())
        .select_from(Notification)
        .where(Notification.user_id == user_id, Notification.read_at.is_(None))
    )
    return int((await session.execute(stmt)).scalar_one())


async def latest(session: AsyncSession, *, user_id: int, limit: int) -> list[Notification]:
    stmt = (
        select(Notification)
        .where(Notification.user_id == user_id)
        .order_by(Notification.created_at.desc(), Notification.id.desc())
        .limit(limit)
    )
    return list((await session.execute(stmt)).scalars().all())


async def insert_for_course_students(
    session: AsyncSession,
    *,
    course_id: int,
    kind: str,
    title: str,
    link: str | None,
    data: dict[str, Any],
    now: datetime,
    exclude_user_id: int | None,
) -> list[tuple[int, int]]:
    """One ``INSERT ... SELECT`` over the course's active enrollments; ``(id, user_id)`` of
    every row made (RETURNING, on both databases)."""
    source = select(
        Enrollment.user_id,
        literal(kind, String()),
        literal(title, String()),
        literal(link, String()),
        literal(data, JSON()),
        literal(now, UTCDateTime()),
    ).where(Enrollment.course_id == course_id, Enrollment.status == EnrollmentStatus.ACTIVE)
    if exclude_user_id is not None:
        source = source.where(Enrollment.user_id != exclude_user_id)
    stmt = (
        insert(Notification)
        .from_select(["user_id", "kind", "title", "link", "data", "created_at"], source)
        .returning(Notification.id, Notification.user_id)
    )
    rows = (await session.execute(stmt)).all()
    return [(row[0], row[1]) for row in rows]


async def list_notifications(
    session: AsyncSession, *, user_id: int, unread: bool | None, params: PageParams
) -> PageResult[NotificationRow]:
    """One page of the user's notifications and the total, read with Core (rows, not
    entities)."""
    result: PageResult[Any] = await fetch_page(
        session,
        list_query(user_id=user_id, unread=unread),
        params,
        sort_columns=SORT_COLUMNS,
        tie_breaker=TIE_BREAKER,
        scalars=False,
        core=True,
    )
    result.items = [NotificationRow(*row) for row in result.items]
    return result


async def insert_many(
    db: AsyncSession | AsyncConnection, rows: Sequence[dict[str, Any]]
) -> list[Notification]:
    """Insert ``rows`` (the columns of :class:`Notification` but ``id`` and ``read_at``) in
    one statement; return the stored notifications, in no particular order (RETURNING of a
    many-row INSERT is unordered on SQLite). Core only: no unit of work, no identity map."""
    if not rows:
        return []
    result = await db.execute(_insert_many_statement(), list(rows))
    return [
        Notification(
            id=r.id,
            user_id=r.user_id,
            kind=r.kind,
            title=r.title,
            link=r.link,
            data=r.data,
            created_at=r.created_at,
            read_at=None,
        )
        for r in result
    ]


@cache
def _insert_many_statement() -> Any:
    table: Any = Notification.__table__
    return insert(table).returning(
        table.c.id,
        table.c.user_id,
        table.c.kind,
        table.c.title,
        table.c.link,
        table.c.data,
        table.c.created_at,
    )
