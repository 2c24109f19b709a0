"""Plain async factories for tests: real rows through the real services."""

from __future__ import annotations

import itertools
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from campus.accounts.hashing import get_passwords
from campus.accounts.service import sessions
from campus.config import Settings
from campus.models.accounts import User, UserRole
from campus.models.courses import Course, Lesson
from campus.models.learning import Enrollment, EnrollmentStatus

_counter = itertools.count(1)
DEFAULT_PASSWORD = "correct-horse-battery-staple"


def unique_email(prefix: str = "user") -> str:
    return f"{prefix}{next(_counter)}-{id(_counter)}@example.test"


async def create_user(
    session: AsyncSession,
    settings: Settings,
    *,
    role: UserRole | str = UserRole.STUDENT,
    email: str | None = None,
    password: str = DEFAULT_PASSWORD,
    full_name: str | None = None,
    is_active: bool = True,
    is_verified: bool = True,
    **extra: Any,
) -> User:
    user = User(
        email=(email or unique_email(str(role))).lower(),
        full_name=full_name or f"Test {str(role).title()}",
        role=UserRole(role),
        password_hash=await get_passwords(settings).hash(password),
        is_active=is_active,
        is_verified=is_verified,
        **extra,
    )
    session.add(user)
    await session.flush()
    return user


async def auth_headers(session: AsyncSession, settings: Settings, user: User) -> dict[str, str]:
    """Bearer headers of a fresh sign-in session for ``user``."""
    tokens = await sessions.start_session(session, settings, user)
    await session.flush()
    return {"Authorization": f"Bearer {tokens.access_token}"}


async def create_course(
    session: AsyncSession,
    teacher: User,
    *,
    title: str | None = None,
    is_published: bool = True,
    price_cents: int = 0,
    lessons: int = 0,
    **extra: Any,
) -> Course:
    """A course taught by ``teacher`` with ``lessons`` lessons at positions 1..n."""
    n = next(_counter)
    course = Course(
        title=title or f"Course {n}",
        slug=extra.pop("slug", f"course-{n}-{id(_counter)}"),
        description=extra.pop("description", f"About course {n}."),
        teacher_id=teacher.id,
        is_published=is_published,
        price_cents=price_cents,
        **extra,
    )
    session.add(course)
    await session.flush()
    for position in range(1, lessons + 1):
        await create_lesson(session, course, position=position)
    return course


async def create_lesson(
    session: AsyncSession,
    course: Course,
    *,
    position: int,
    title: str | None = None,
    is_preview: bool = False,
    **extra: Any,
) -> Lesson:
    lesson = Lesson(
        course_id=course.id,
        position=position,
        title=title or f"Lesson {position}",
        content=extra.pop("content", f"# Lesson {position}\n\nText."),
        is_preview=is_preview,
        **extra,
    )
    session.add(lesson)
    await session.flush()
    return lesson


async def enroll(
    session: AsyncSession,
    user: User,
    course: Course,
    *,
    status: EnrollmentStatus = EnrollmentStatus.ACTIVE,
    **extra: Any,
) -> Enrollment:
    enrollment = Enrollment(user_id=user.id, course_id=course.id, status=status, **extra)
    session.add(enrollment)
    await session.flush()
    return enrollment
