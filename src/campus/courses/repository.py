"""SQL for courses and lessons, with the visibility scope every read goes through."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, exists, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from campus.models.accounts import User, UserRole
from campus.models.courses import Course, Lesson
from campus.models.learning import Enrollment, EnrollmentStatus


def visible_to(actor: User | None) -> ColumnElement[bool]:
    """The courses ``actor`` may see: published ones; a teacher's own drafts; all for admins."""
    if actor is None:
        return Course.is_published.is_(True)
    if actor.role == UserRole.ADMIN:
        return true()
    if actor.role == UserRole.TEACHER:
        return (Course.is_published.is_(True)) | (Course.teacher_id == actor.id)
    return Course.is_published.is_(True)


async def get_visible_course(
    session: AsyncSession, actor: User | None, course_id: int
) -> Course | None:
    stmt = select(Course).where(Course.id == course_id, visible_to(actor))
    return (await session.execute(stmt)).scalar_one_or_none()


async def get_lesson_with_course(
    session: AsyncSession, actor: User | None, *, lesson_id: int, course_id: int | None = None
) -> tuple[Lesson, Course] | None:
    """A lesson and its course, if the course is visible to ``actor``."""
    conditions: list[Any] = [Lesson.id == lesson_id, visible_to(actor)]
    if course_id is not None:
        conditions.append(Lesson.course_id == course_id)
    stmt = select(Lesson, Course).join(Course, Course.id == Lesson.course_id).where(*conditions)
    row = (await session.execute(stmt)).first()
    return (row[0], row[1]) if row else None


async def is_enrolled(session: AsyncSession, *, user_id: int, course_id: int) -> bool:
    stmt = select(
        exists().where(
            and_(
                Enrollment.user_id == user_id,
                Enrollment.course_id == course_id,
                Enrollment.status == EnrollmentStatus.ACTIVE,
            )
        )
    )
    return bool((await session.execute(stmt)).scalar())
