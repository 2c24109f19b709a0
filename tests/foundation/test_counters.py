"""Maintained counts (campus.models.counters): exact after every kind of write, on both
databases, and what the unfiltered lists report as their total."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from sqlalchemy import delete, insert, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from campus.config import Settings
from campus.models.accounts import User, UserRole
from campus.models.counters import recount
from campus.models.courses import Course, Lesson
from campus.models.learning import Enrollment, EnrollmentStatus
from tests.counts import DRIFT
from tests.factories import auth_headers, create_course, create_user, enroll, unique_email


async def drift(connection: AsyncConnection) -> dict[str, tuple[int, int]]:
    """Every count that differs from the rows: {name: (kept, counted)}; empty when exact."""
    rows = (await connection.execute(text(DRIFT))).all()
    names = {row[0].split(":")[0] for row in rows}
    assert {"row_counts.users", "row_counts.courses", "row_counts.courses_published"} <= names
    return {row[0]: (row[1], row[2]) for row in rows if row[1] != row[2]}


async def test_counts_follow_every_write(
    session: AsyncSession, connection: AsyncConnection, settings: Settings
) -> None:
    teacher = await create_user(session, settings, role=UserRole.TEACHER)
    students = [await create_user(session, settings) for _ in range(3)]
    course = await create_course(session, teacher, lessons=4, is_published=False)
    other = await create_course(session, teacher, lessons=1)
    assert await drift(connection) == {}

    # publish / unpublish / an update that does not touch publication
    await session.execute(update(Course).where(Course.id == course.id).values(is_published=True))
    await session.execute(update(Course).where(Course.id == other.id).values(title="Renamed"))
    assert await drift(connection) == {}
    await session.execute(update(Course).where(Course.id == other.id).values(is_published=False))
    assert await drift(connection) == {}

    # enrollments: insert active and cancelled, cancel, reactivate, delete
    for student in students:
        await enroll(session, student, course)
    await enroll(session, students[0], other, status=EnrollmentStatus.CANCELLED)
    assert await drift(connection) == {}
    await session.execute(
        update(Enrollment)
        .where(Enrollment.user_id == students[1].id, Enrollment.course_id == course.id)
        .values(status=EnrollmentStatus.CANCELLED)
    )
    await session.execute(
        update(Enrollment)
        .where(Enrollment.user_id == students[0].id, Enrollment.course_id == other.id)
        .values(status=EnrollmentStatus.ACTIVE)
    )
    assert await drift(connection) == {}

    # a lesson deleted; one moved to the other course; several inserted in one statement
    lessons = (
        await session.execute(
            text("SELECT id FROM lessons WHERE course_id = :c ORDER BY position"),
            {"c": course.id},
        )
    ).scalars()
    first, second, *_ = list(lessons)
    await session.execute(delete(Lesson).where(Lesson.id == first))
    await session.execute(
        update(Lesson).where(Lesson.id == second).values(course_id=other.id, position=50)
    )
    await session.execute(
        insert(Lesson),
        [
            {"course_id": other.id, "title": f"Bulk {i}", "content": "", "position": 100 + i}
            for i in range(3)
        ],
    )
    assert await drift(connection) == {}

    # several users in one statement, then deleting a learner cascades to their enrollments
    await session.execute(
        insert(User),
        [{"email": unique_email("bulk"), "full_name": "Bulk", "role": "student"} for _ in range(4)],
    )
    await session.execute(delete(User).where(User.id == students[2].id))
    assert await drift(connection) == {}

    # deleting a course takes its lessons and enrollments (cascades) with it
    await session.execute(delete(Course).where(Course.id == course.id))
    assert await drift(connection) == {}
    await session.execute(delete(Course).where(Course.id == other.id))
    assert await drift(connection) == {}


async def test_an_insert_that_adds_nothing_writes_no_count(
    session: AsyncSession, connection: AsyncConnection, settings: Settings
) -> None:
    """``INSERT ... ON CONFLICT DO NOTHING`` of an existing enrollment leaves the count alone
    (and on PostgreSQL does not even update the course row)."""
    teacher = await create_user(session, settings, role=UserRole.TEACHER)
    student = await create_user(session, settings)
    course = await create_course(session, teacher)
    await enroll(session, student, course)
    kept = text("SELECT students_count FROM courses WHERE id = :c")
    before = (await session.execute(kept, {"c": course.id})).scalar_one()
    if connection.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as upsert
    else:
        from sqlalchemy.dialects.sqlite import insert as upsert  # type: ignore[assignment]
    await session.execute(
        upsert(Enrollment)
        .values(user_id=student.id, course_id=course.id, status="active")
        .on_conflict_do_nothing(index_elements=["user_id", "course_id"])
    )
    after = (await session.execute(kept, {"c": course.id})).scalar_one()
    assert before == after == 1
    assert await drift(connection) == {}


async def test_recount_repairs_counts(
    session: AsyncSession, connection: AsyncConnection, settings: Settings
) -> None:
    teacher = await create_user(session, settings, role=UserRole.TEACHER)
    course = await create_course(session, teacher, lessons=1)
    await session.execute(text("UPDATE row_counts SET value = value + 7"))
    await session.execute(text("UPDATE courses SET lessons_count = 99, students_count = 99"))
    broken = await drift(connection)
    assert broken["row_counts.users"][0] == broken["row_counts.users"][1] + 7
    assert broken[f"courses.lessons_count:{course.id}"] == (99, 1)
    await connection.run_sync(recount)
    assert await drift(connection) == {}


async def _total(client: httpx.AsyncClient, path: str, headers: dict[str, str] | None) -> Any:
    response = await client.get(path, headers=headers or {})
    assert response.status_code == 200, response.text
    return response.json()["total"]


async def test_unfiltered_totals_come_from_the_counts(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    """The catalog (anonymous, teacher with drafts, admin), the admin user list and a
    course's student list report exact totals, equal to the filtered-path counts."""
    teacher = await create_user(session, settings, role=UserRole.TEACHER)
    admin = await create_user(session, settings, role=UserRole.ADMIN)
    learner = await create_user(session, settings)
    course = await create_course(session, teacher, lessons=2)
    await create_course(session, teacher, is_published=False)
    await create_course(session, admin, is_published=False)
    await enroll(session, learner, course)
    h_teacher = await auth_headers(session, settings, teacher)
    h_admin = await auth_headers(session, settings, admin)
    counted = {
        row[0]: row[1]
        for row in (
            await session.execute(
                text(
                    "SELECT 'published', count(*) FROM courses WHERE is_published "
                    "UNION ALL SELECT 'all', count(*) FROM courses "
                    "UNION ALL SELECT 'users', count(*) FROM users "
                    "UNION ALL SELECT 'teacher', count(*) FROM courses "
                    "WHERE is_published OR teacher_id = :t"
                ),
                {"t": teacher.id},
            )
        ).all()
    }

    assert await _total(client, "/api/v1/courses", None) == counted["published"]
    assert await _total(client, "/api/v1/courses", h_teacher) == counted["teacher"]
    assert await _total(client, "/api/v1/courses", h_admin) == counted["all"]
    assert await _total(client, "/api/v1/users", h_admin) == counted["users"]
    # the filtered path (counted) agrees with the maintained one
    assert await _total(client, "/api/v1/courses?sort=title", h_admin) == counted["all"]
    students = f"/api/v1/courses/{course.id}/students"
    assert await _total(client, students, h_teacher) == 1
    body = (await client.get(f"/api/v1/courses/{course.id}")).json()
    assert (body["lessons_count"], body["students_count"]) == (2, 1)

    # the API's own writes move the totals
    created = await client.post(
        "/api/v1/courses",
        json={"title": "Fresh", "description": "New.", "level": "beginner", "is_published": True},
        headers=h_teacher,
    )
    assert created.status_code == 201, created.text
    assert created.json()["lessons_count"] == 0
    assert await _total(client, "/api/v1/courses", None) == counted["published"] + 1
    h_learner = await auth_headers(session, settings, learner)
    left = await client.delete(f"/api/v1/courses/{course.id}/enrollment", headers=h_learner)
    assert left.status_code == 204, left.text
    assert await _total(client, students, h_teacher) == 0


async def test_concurrent_enrollments_count_exactly(
    committed_client: httpx.AsyncClient, settings: Settings, engine: AsyncEngine
) -> None:
    """Many learners enrolling in one course at once, each in its own committed unit of
    work: the course's count is exact (PostgreSQL serialises on the course row)."""
    async with AsyncSession(engine, expire_on_commit=False) as setup:
        teacher = await create_user(setup, settings, role=UserRole.TEACHER)
        course = await create_course(setup, teacher, lessons=1)
        learners = [await create_user(setup, settings) for _ in range(12)]
        headers = [await auth_headers(setup, settings, learner) for learner in learners]
        await setup.commit()
    path = f"/api/v1/courses/{course.id}/enrollment"
    enrolled = await asyncio.gather(*(committed_client.post(path, headers=h) for h in headers))
    assert {r.status_code for r in enrolled} == {201}
    left = await asyncio.gather(*(committed_client.delete(path, headers=h) for h in headers[:5]))
    assert {r.status_code for r in left} == {204}
    body = (await committed_client.get(f"/api/v1/courses/{course.id}")).json()
    assert body["students_count"] == 7
    async with engine.connect() as connection:
        assert await drift(connection) == {}
