"""Writes that race each other answer 404/409/200, never 500 (PostgreSQL, real commits on
parallel connections): enroll vs leave, completion or a task's lesson vs the lesson's
delete, a new lesson vs the course's delete. Before, these were an ``AssertionError`` in
``learning/service.py`` and foreign-key ``IntegrityError`` 500s; data stayed consistent,
and must still."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from campus.config import Settings
from campus.main import create_app
from campus.models.accounts import UserRole
from campus.models.courses import Lesson
from campus.models.learning import Enrollment, LessonCompletion
from campus.models.tasks import Task
from tests.conftest import truncate_all
from tests.factories import auth_headers, create_course, create_lesson, create_user

ROUNDS = 12


@dataclass
class World:
    client: httpx.AsyncClient
    engine: AsyncEngine
    teacher: dict[str, str]
    student: dict[str, str]
    course_id: int
    student_id: int


@pytest.fixture
async def world(settings: Settings, engine: AsyncEngine) -> AsyncIterator[World]:
    app = create_app(settings)
    try:
        async with app.state.database.sessionmaker() as db:
            teacher = await create_user(db, settings, role=UserRole.TEACHER)
            student = await create_user(db, settings)
            course = await create_course(db, teacher)
            teacher_h = await auth_headers(db, settings, teacher)
            student_h = await auth_headers(db, settings, student)
            await db.commit()
            ids = (course.id, student.id)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield World(c, engine, teacher_h, student_h, *ids)
    finally:
        await app.state.database.dispose()
        await truncate_all(engine)


async def _new_lesson(world: World, course_id: int | None = None) -> int:
    response = await world.client.post(
        f"/api/v1/courses/{course_id or world.course_id}/lessons",
        json={"title": "Racing", "content": "text"},
        headers=world.teacher,
    )
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


async def _count(world: World, model: type, *where: object) -> int:
    async with world.engine.connect() as conn:
        return int(
            (await conn.execute(select(func.count()).select_from(model).where(*where))).scalar_one()
        )


@pytest.mark.postgres_only
async def test_enroll_and_leave_at_once(world: World) -> None:
    url = f"/api/v1/courses/{world.course_id}/enrollment"
    seen: set[int] = set()
    for _ in range(ROUNDS):
        responses = await asyncio.gather(
            world.client.post(url, headers=world.student),
            world.client.delete(url, headers=world.student),
            world.client.post(url, headers=world.student),
            world.client.delete(url, headers=world.student),
        )
        statuses = [r.status_code for r in responses]
        seen.update(statuses)
        assert set(statuses) <= {200, 201, 204, 404, 409}, [r.text for r in responses]
    # one row, however it ended
    assert await _count(world, Enrollment, Enrollment.user_id == world.student_id) == 1


@pytest.mark.postgres_only
async def test_completion_and_task_against_the_lessons_delete(world: World) -> None:
    enrolled = await world.client.post(
        f"/api/v1/courses/{world.course_id}/enrollment", headers=world.student
    )
    assert enrolled.status_code in (200, 201)
    # the course needs to be published for completions: it is (factory default)
    for _ in range(ROUNDS):
        lesson_id = await _new_lesson(world)
        lesson_url = f"/api/v1/courses/{world.course_id}/lessons/{lesson_id}"
        completion, task, deleted = await asyncio.gather(
            world.client.put(lesson_url + "/completion", headers=world.student),
            world.client.post(
                "/api/v1/tasks",
                json={"title": "Read it", "lesson_id": lesson_id},
                headers=world.student,
            ),
            world.client.delete(lesson_url, headers=world.teacher),
        )
        assert deleted.status_code == 204, deleted.text
        assert completion.status_code in (200, 404), completion.text
        assert task.status_code in (201, 422), task.text
    # nothing points at a deleted lesson
    assert await _count(world, LessonCompletion) == 0
    assert await _count(world, Task, Task.lesson_id.is_not(None)) == 0
    assert await _count(world, Lesson) == 0


@pytest.mark.postgres_only
async def test_a_new_lesson_against_the_courses_delete(world: World, settings: Settings) -> None:
    for _ in range(ROUNDS):
        created = await world.client.post(
            "/api/v1/courses",
            json={"title": "Short-lived", "description": "x", "level": "beginner"},
            headers=world.teacher,
        )
        assert created.status_code == 201, created.text
        course_id = created.json()["id"]
        lesson, second, deleted = await asyncio.gather(
            world.client.post(
                f"/api/v1/courses/{course_id}/lessons",
                json={"title": "One", "content": "text"},
                headers=world.teacher,
            ),
            world.client.post(
                f"/api/v1/courses/{course_id}/lessons",
                json={"title": "Two", "content": "text"},
                headers=world.teacher,
            ),
            world.client.delete(f"/api/v1/courses/{course_id}", headers=world.teacher),
        )
        assert deleted.status_code == 204, deleted.text
        assert lesson.status_code in (201, 404), lesson.text
        assert second.status_code in (201, 404), second.text
        assert await _count(world, Lesson, Lesson.course_id == course_id) == 0


async def test_a_completion_of_a_lesson_deleted_meanwhile_is_404(
    client: httpx.AsyncClient, session: object, settings: Settings
) -> None:
    """The same rule on both databases, without a race: the API answers for a lesson that
    is gone with 404 and for a task pointing at one with 422."""
    from sqlalchemy.ext.asyncio import AsyncSession

    assert isinstance(session, AsyncSession)
    teacher = await create_user(session, settings, role=UserRole.TEACHER)
    student = await create_user(session, settings)
    course = await create_course(session, teacher)
    lesson = await create_lesson(session, course, position=1)
    headers = await auth_headers(session, settings, student)
    url = f"/api/v1/courses/{course.id}"
    assert (await client.post(url + "/enrollment", headers=headers)).status_code == 201
    await session.delete(lesson)
    await session.flush()
    gone = await client.put(f"{url}/lessons/{lesson.id}/completion", headers=headers)
    assert gone.status_code == 404
    task = await client.post(
        "/api/v1/tasks", json={"title": "x", "lesson_id": lesson.id}, headers=headers
    )
    assert task.status_code == 422
