"""How many statements enrolling and completing a lesson send (issue 20, "Writes too"),
so a regression shows.

Each request's own statements are counted over what signing in costs (``GET
/api/v1/auth/me`` with the same token, measured alongside); transaction bookkeeping
(BEGIN, COMMIT, savepoints) is counted apart, since a savepoint is two round trips too.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from campus.config import Settings
from campus.models.accounts import UserRole
from campus.models.courses import Course
from campus.models.learning import Enrollment, LessonCompletion
from campus.models.notifications import Notification
from tests.factories import auth_headers, create_user
from tests.learning.test_learning_api import make_course
from tests.sqlcount import request_costs


@pytest.fixture
async def people(session: AsyncSession, settings: Settings) -> dict[str, Any]:
    teacher = await create_user(session, settings, role=UserRole.TEACHER)
    student = await create_user(session, settings)
    return {
        "teacher": teacher,
        "student": student,
        "h": await auth_headers(session, settings, student),
    }


def _completion_statements(engine: AsyncEngine) -> int:
    """PostgreSQL: gate and insert in one statement; SQLite: the gate, then the insert."""
    return 1 if engine.dialect.name == "postgresql" else 2


async def test_complete_lesson_is_one_statement_and_no_savepoint(
    client: httpx.AsyncClient, session: AsyncSession, engine: AsyncEngine, people: dict[str, Any]
) -> None:
    course, lessons = await make_course(session, people["teacher"], lessons=2)
    session.add(Enrollment(user_id=people["student"].id, course_id=course.id))
    await session.flush()
    url = f"/api/v1/courses/{course.id}/lessons/{lessons[0].id}/completion"
    for attempt in ("first", "again"):
        response, statements, savepoints, queries = await request_costs(
            client, engine, people["h"], "PUT", url
        )
        assert response.status_code == 200, response.text
        # the gate (course, enrollment, lesson, quiz, progress so far) and the insert
        expected = _completion_statements(engine)
        assert (statements, savepoints) == (expected, 0), (attempt, queries)
        body = response.json()
        assert (body["completed_lessons"], body["total_lessons"], body["percent"]) == (1, 2, 50)
        assert body["completed_at"] is None
    done = await session.scalar(
        select(func.count(LessonCompletion.id)).where(
            LessonCompletion.user_id == people["student"].id
        )
    )
    assert done == 1  # PUT twice = once


async def test_completing_the_last_lesson_reports_the_course_completed(
    client: httpx.AsyncClient, session: AsyncSession, people: dict[str, Any]
) -> None:
    """The progress is the gate's count plus this insert: the last lesson completes the
    course, its completion time is this one, and a repeat changes nothing."""
    course, lessons = await make_course(session, people["teacher"], lessons=2)
    session.add(Enrollment(user_id=people["student"].id, course_id=course.id))
    await session.flush()
    base = f"/api/v1/courses/{course.id}/lessons"
    first = await client.put(f"{base}/{lessons[0].id}/completion", headers=people["h"])
    assert first.json()["completed_at"] is None
    last = await client.put(f"{base}/{lessons[1].id}/completion", headers=people["h"])
    body = last.json()
    assert (body["completed_lessons"], body["percent"]) == (2, 100)
    assert body["completed_at"] is not None
    again = await client.put(f"{base}/{lessons[0].id}/completion", headers=people["h"])
    assert again.json() == body
    progress = await client.get(f"/api/v1/courses/{course.id}/progress", headers=people["h"])
    assert progress.json() == body


async def test_completion_refusals_cost_one_statement(
    client: httpx.AsyncClient,
    session: AsyncSession,
    engine: AsyncEngine,
    settings: Settings,
    people: dict[str, Any],
) -> None:
    """Not enrolled 403, another course's lesson 404, a draft 404: decided by the gate."""
    course, _ = await make_course(session, people["teacher"], lessons=1)
    other, other_lessons = await make_course(session, people["teacher"], lessons=1)
    draft, draft_lessons = await make_course(session, people["teacher"], published=False)
    session.add(Enrollment(user_id=people["student"].id, course_id=course.id))
    await session.flush()
    cases = [
        (other.id, other_lessons[0].id, 403, "enrollment-required"),
        (course.id, other_lessons[0].id, 404, None),
        (draft.id, draft_lessons[0].id, 404, None),
    ]
    for course_id, lesson_id, status, code in cases:
        url = f"/api/v1/courses/{course_id}/lessons/{lesson_id}/completion"
        response, statements, _, queries = await request_costs(
            client, engine, people["h"], "PUT", url
        )
        assert response.status_code == status, response.text
        if code is not None:
            assert response.json()["type"] == f"/problems/{code}"
        assert statements == 1, queries
    # the teacher of a draft may not complete its lessons either: a course must be published
    teacher_h = await auth_headers(session, settings, people["teacher"])
    url = f"/api/v1/courses/{draft.id}/lessons/{draft_lessons[0].id}/completion"
    assert (await client.put(url, headers=teacher_h)).status_code == 404


async def test_enroll_repeat_is_one_statement_and_first_is_few(
    client: httpx.AsyncClient, session: AsyncSession, engine: AsyncEngine, people: dict[str, Any]
) -> None:
    course, _ = await make_course(session, people["teacher"], lessons=1)
    url = f"/api/v1/courses/{course.id}/enrollment"
    first, statements, _, queries = await request_costs(client, engine, people["h"], "POST", url)
    assert first.status_code == 201, first.text
    # the gate, the upsert (in a savepoint: a course deleted meanwhile is a 404 the payment
    # webhook goes on after), the teacher's name and title, the teacher's notification
    assert statements <= 4, queries
    again, statements, savepoints, queries = await request_costs(
        client, engine, people["h"], "POST", url
    )
    assert again.status_code == 200, again.text
    assert again.json() == first.json()
    assert (statements, savepoints) == (1, 0), queries
    rows = await session.scalar(
        select(func.count(Enrollment.id)).where(Enrollment.course_id == course.id)
    )
    assert rows == 1
    told = await session.scalar(
        select(func.count(Notification.id)).where(Notification.user_id == people["teacher"].id)
    )
    assert told == 1


async def test_enroll_again_after_leaving_reactivates_the_row(
    client: httpx.AsyncClient, session: AsyncSession, people: dict[str, Any]
) -> None:
    """The upsert turns the cancelled row active again (201, a new enrolled_at, the same id)."""
    course, _ = await make_course(session, people["teacher"], lessons=1)
    url = f"/api/v1/courses/{course.id}/enrollment"
    first = (await client.post(url, headers=people["h"])).json()
    assert (await client.delete(url, headers=people["h"])).status_code == 204
    back = await client.post(url, headers=people["h"])
    assert back.status_code == 201, back.text
    assert back.json()["id"] == first["id"]
    assert back.json()["status"] == "active"
    assert back.json()["enrolled_at"] >= first["enrolled_at"]
    refreshed = await session.get(Course, course.id, populate_existing=True)
    assert refreshed is not None
    assert refreshed.students_count == 1
