"""Really committed: the course's completion issues the certificate through the
``certificates.issue`` job after the commit, and racing issues make one certificate."""

from __future__ import annotations

import asyncio

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from campus.certificates import service
from campus.config import Settings
from campus.db import WRITE_TRANSACTION
from campus.jobs import drain
from campus.kit.clock import utcnow
from campus.models.certificates import Certificate
from campus.models.learning import LessonCompletion
from campus.models.notifications import Notification
from tests.certificates.helpers import (
    STUDENT_NAME,
    World,
    add_quiz,
    complete_course,
    complete_lesson,
    make_world,
    pass_quiz,
)


async def _committed_world(settings: Settings, engine: AsyncEngine) -> World:
    async with AsyncSession(engine, expire_on_commit=False) as setup:
        world = await make_world(setup, settings)
        await setup.commit()
    return world


async def _counts(engine: AsyncEngine, world: World) -> tuple[int, int]:
    async with AsyncSession(engine) as check:
        certificates = await check.scalar(
            select(func.count())
            .select_from(Certificate)
            .where(Certificate.user_id == world.student.id)
        )
        notes = await check.scalar(
            select(func.count())
            .select_from(Notification)
            .where(
                Notification.user_id == world.student.id,
                Notification.kind == service.CERTIFICATE_ISSUED,
            )
        )
    return int(certificates or 0), int(notes or 0)


async def test_completing_the_course_issues_the_certificate_through_the_job(
    committed_client: httpx.AsyncClient, settings: Settings, engine: AsyncEngine
) -> None:
    world = await _committed_world(settings, engine)
    await complete_course(committed_client, world)
    await drain(within=30)
    assert await _counts(engine, world) == (1, 1)
    mine = await committed_client.get("/api/v1/certificates", headers=world.h["student"])
    [item] = mine.json()["items"]
    assert item["student_name"] == STUDENT_NAME
    assert item["status"] == "valid"
    # Completing the last lesson again (after undoing it) issues nothing more.
    lesson = world.lessons[1]
    url = f"/api/v1/courses/{world.course.id}/lessons/{lesson.id}/completion"
    assert (await committed_client.delete(url, headers=world.h["student"])).status_code in (
        200,
        204,
    )
    assert (await complete_lesson(committed_client, world, lesson, world.h["student"])).is_success
    await drain(within=30)
    assert await _counts(engine, world) == (1, 1)
    # The other student completed nothing: no certificate.
    theirs = await committed_client.get("/api/v1/certificates", headers=world.h["other"])
    assert theirs.json()["total"] == 0


async def test_passing_a_quiz_added_after_its_lesson_was_done_issues_the_certificate(
    committed_client: httpx.AsyncClient, settings: Settings, engine: AsyncEngine
) -> None:
    world = await _committed_world(settings, engine)
    first, second = world.lessons
    assert (await complete_lesson(committed_client, world, first, world.h["student"])).is_success
    quiz = await add_quiz(committed_client, world)  # lesson 1 gets a quiz after it was done
    # Every lesson is done now, but the course's quiz is not passed: no certificate.
    assert (await complete_lesson(committed_client, world, second, world.h["student"])).is_success
    await drain(within=30)
    assert await _counts(engine, world) == (0, 0)
    # Passing it completes the course (lesson 1's completion existed already).
    await pass_quiz(committed_client, quiz, world.h["student"])
    await drain(within=30)
    assert await _counts(engine, world) == (1, 1)


async def test_racing_issues_make_one_certificate_and_one_notification(
    committed_client: httpx.AsyncClient, settings: Settings, engine: AsyncEngine
) -> None:
    world = await _committed_world(settings, engine)
    async with AsyncSession(engine) as setup:
        for lesson in world.lessons:
            setup.add(
                LessonCompletion(
                    user_id=world.student.id,
                    lesson_id=lesson.id,
                    course_id=world.course.id,
                    completed_at=utcnow(),
                )
            )
        await setup.commit()

    async def issue() -> str | None:
        # As the job's unit of work does (campus.db.Database.session): on SQLite a writer
        # takes the write lock first, so racing writers queue instead of failing.
        async with AsyncSession(engine, expire_on_commit=False) as s:
            await s.connection(execution_options=WRITE_TRANSACTION)
            made = await service.issue_certificate(
                s, user_id=world.student.id, course_id=world.course.id
            )
            await s.commit()
            return None if made is None else made.code

    codes = await asyncio.gather(*[issue() for _ in range(6)])
    assert len([c for c in codes if c is not None]) == 1, codes
    assert await _counts(engine, world) == (1, 1)


async def test_the_last_two_lessons_completed_at_once_still_issue_the_certificate(
    committed_client: httpx.AsyncClient, settings: Settings, engine: AsyncEngine
) -> None:
    """Two tabs complete the course's last two lessons at the same moment: on PostgreSQL
    neither transaction sees the other's completion, so each saw the course unfinished and
    no certificate was ever issued. A completion that leaves one lesson open enqueues the
    check too, and the job (after both commits) issues exactly one."""
    world = await _committed_world(settings, engine)
    first, second = await asyncio.gather(
        complete_lesson(committed_client, world, world.lessons[0], world.h["student"]),
        complete_lesson(committed_client, world, world.lessons[1], world.h["student"]),
    )
    assert first.status_code == second.status_code == 200, (first.text, second.text)
    await drain(within=30)
    assert await _counts(engine, world) == (1, 1)
