"""SQL of the media domain."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from campus.kit.pagination.envelope import PageResult
from campus.kit.pagination.params import PageParams
from campus.kit.pagination.statements import ListQuery, fetch_page
from campus.models.accounts import User
from campus.models.media import Media

SORTS: dict[str, ColumnElement[Any]] = {"created_at": Media.created_at.expression}


async def list_course_media(
    session: AsyncSession, course_id: int, params: PageParams
) -> PageResult[Media]:
    query = ListQuery(page=select(Media).where(Media.course_id == course_id))
    return await fetch_page(
        session, query, params, sort_columns=SORTS, tie_breaker=Media.id.expression
    )


async def get_course_media(session: AsyncSession, *, course_id: int, media_id: int) -> Media | None:
    stmt = select(Media).where(Media.id == media_id, Media.course_id == course_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def get_by_token(session: AsyncSession, token: str) -> Media | None:
    """A live item (of a course) by its token; a deleted one waiting for clean-up is None."""
    stmt = select(Media).where(Media.token == token, Media.course_id.is_not(None))
    return (await session.execute(stmt)).scalar_one_or_none()


async def lock_uploader(session: AsyncSession, user_id: int) -> None:
    """Serialise one uploader's quota checks: ``SELECT ... FOR UPDATE`` of their row on
    PostgreSQL (a SQLite writer holds the database's write lock already)."""
    await session.execute(select(User.id).where(User.id == user_id).with_for_update())


async def bytes_used(session: AsyncSession, user_id: int) -> int:
    """The bytes of the live files ``user_id`` uploaded (what their quota counts)."""
    stmt = select(func.coalesce(func.sum(Media.size_bytes), 0)).where(
        Media.uploaded_by_id == user_id, Media.course_id.is_not(None)
    )
    return int((await session.execute(stmt)).scalar_one())


async def mark_deleted(session: AsyncSession, media_id: int) -> None:
    """Detach the item from its course: gone for readers, its blobs left to the clean-up."""
    await session.execute(
        update(Media)
        .where(Media.id == media_id)
        .values(course_id=None)
        .execution_options(synchronize_session=False)
    )


async def deleted_items(session: AsyncSession, *, limit: int) -> Sequence[Media]:
    """Items whose blobs are still to delete (their course or they were deleted)."""
    stmt = select(Media).where(Media.course_id.is_(None)).order_by(Media.id).limit(limit)
    return (await session.execute(stmt)).scalars().all()


async def forget(session: AsyncSession, media_ids: Sequence[int]) -> None:
    if media_ids:
        await session.execute(
            delete(Media)
            .where(Media.id.in_(media_ids), Media.course_id.is_(None))
            .execution_options(synchronize_session=False)
        )
