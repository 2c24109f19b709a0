"""Courses and lessons: the catalog, its content, and who may read it."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from campus.courses import repository
from campus.errors import Forbidden, NotFound, Unauthenticated
from campus.models.accounts import User, UserRole
from campus.models.courses import Course, Lesson


def can_manage(actor: User | None, course: Course) -> bool:
    """The course's teacher and admins manage a course (edit it, its lessons, its students)."""
    return actor is not None and (actor.role == UserRole.ADMIN or course.teacher_id == actor.id)


async def get_readable_lesson(
    session: AsyncSession, actor: User | None, *, lesson_id: int, course_id: int | None = None
) -> Lesson:
    """The lesson, if ``actor`` may read its content (API.md §4, "Access to lesson content").

    Invisible course or a lesson of another course: 404. Preview lessons: anyone who can see
    the course. Otherwise the course's teacher, an admin or an actively enrolled student;
    anonymous: 401; anyone else: 403 ``enrollment-required``.
    """
    found = await repository.get_lesson_with_course(
        session, actor, lesson_id=lesson_id, course_id=course_id
    )
    if found is None:
        raise NotFound("Lesson not found.")
    lesson, course = found
    if lesson.is_preview or can_manage(actor, course):
        return lesson
    if actor is None:
        raise Unauthenticated("Sign in to read this lesson.")
    if await repository.is_enrolled(session, user_id=actor.id, course_id=course.id):
        return lesson
    raise Forbidden("Enroll in this course to read this lesson.", code="enrollment-required")
