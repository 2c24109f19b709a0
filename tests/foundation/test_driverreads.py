"""Hot reads through the driver (campus.kit.driverreads) give exactly SQLAlchemy's rows."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from campus.chat import repository as chat
from campus.config import Settings
from campus.courses import repository as courses
from campus.courses.schemas import CourseFilters
from campus.db import READ_ONLY_AUTOCOMMIT
from campus.kit import driverreads
from campus.kit.clock import utcnow
from campus.kit.pagination.params import PageParams, SortKey
from campus.learning import repository as learning
from campus.models.accounts import UserRole
from campus.models.chat import ChatMessage
from campus.models.notifications import Notification
from campus.notifications import repository as notifications
from tests.conftest import truncate_all
from tests.factories import create_course, create_user, enroll


async def _reads(engine: AsyncEngine, users: dict[str, Any], ids: list[int]) -> list[Any]:
    out: list[Any] = []
    async with AsyncSession(engine, expire_on_commit=False) as session:
        pages = [
            PageParams(limit=2, cursors=True),
            PageParams(skip=2, limit=2, cursors=True),
            PageParams(limit=3, sort=(SortKey("title", descending=False),), cursors=True),
        ]
        for actor in (None, users["teacher"], users["student"], users["admin"]):
            for params in pages:
                page = await courses.list_course_cards(session, actor, CourseFilters(), params)
                out.append((page.items, page.total, page.next_keyset))
                versions = await courses.list_course_versions(
                    session, actor, CourseFilters(), params
                )
                out.append((versions.items, versions.total, versions.next_keyset))
            for course_id in ids:
                out.append(await courses.get_course_card(session, actor, course_id))
                out.append(await courses.get_course_version(session, actor, course_id))
                if actor is not None:
                    out.append(await courses.get_participation(session, actor, course_id))
        cabinet = await learning.list_cabinet(session, users["student"], PageParams(limit=5))
        out.append((cabinet.items, cabinet.total))
        for params in pages[:2]:
            for unread in (None, True, False):
                notes = await notifications.list_notifications(
                    session, user_id=users["student"].id, unread=unread, params=params
                )
                out.append((notes.items, notes.total, notes.next_keyset))
            messages = await chat.list_messages(session, course_id=ids[0], params=params)
            out.append((messages.items, messages.total, messages.next_keyset))
            students = await learning.list_students(session, ids[0], params)
            out.append((students.items, students.total, students.next_keyset))
    return out


@pytest.mark.postgres_only
async def test_driver_rows_are_sqlalchemy_rows(engine: AsyncEngine, settings: Settings) -> None:
    try:
        async with AsyncSession(engine, expire_on_commit=False) as session:
            users = {
                "teacher": await create_user(session, settings, role=UserRole.TEACHER),
                "student": await create_user(session, settings),
                "admin": await create_user(session, settings, role=UserRole.ADMIN),
            }
            made = [await create_course(session, users["teacher"], lessons=2) for _ in range(3)]
            made.append(await create_course(session, users["teacher"], is_published=False))
            await enroll(session, users["student"], made[0])
            await enroll(session, users["student"], made[1])
            now = utcnow()
            for i in range(3):
                read_at = now if i == 1 else None
                session.add(
                    Notification(
                        user_id=users["student"].id,
                        kind="x.y",
                        title=f"Note {i}",
                        link="/x" if i else None,
                        data={"n": i, "nested": [1.5, None, "é"]},
                        created_at=now,
                        read_at=read_at,
                    )
                )
            for author in (users["student"], users["teacher"], None):
                session.add(
                    ChatMessage(
                        course_id=made[0].id,
                        author_id=author.id if author else None,
                        body="hello",
                        created_at=now,
                        edited_at=now if author is None else None,
                    )
                )
            await session.commit()
        ids = [course.id for course in made] + [10**6]

        driverreads._COMPILED.clear()
        ordinary = await _reads(engine, users, ids)  # in a transaction: SQLAlchemy's path
        assert not driverreads._COMPILED
        direct = await _reads(engine.execution_options(**READ_ONLY_AUTOCOMMIT), users, ids)
        assert driverreads._COMPILED  # the autocommit reads went through the driver
        assert direct == ordinary
        assert ordinary[0][1] == 3  # anonymous: the three published courses
    finally:
        await truncate_all(engine)
