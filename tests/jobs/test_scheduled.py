"""The other jobs: "new lesson" fan-out in batches, the weekly teacher digest, clean-up."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from campus.config import Settings
from campus.db import Database
from campus.email import MemoryBackend
from campus.jobs import JobQueue, load_jobs, use_queue
from campus.kit.clock import utcnow
from campus.learning.jobs import last_week, week_bounds
from campus.models.accounts import (
    AccountEvent,
    AccountEventKind,
    AccountToken,
    AccountTokenPurpose,
    AuthSession,
    UserRole,
)
from campus.models.courses import Lesson
from campus.models.jobs import JobEffect
from campus.models.learning import LessonCompletion
from tests.factories import create_course, create_user, enroll
from tests.jobs.conftest import effect_keys


@pytest.fixture
async def local_queue(settings: Settings, committed: AsyncEngine) -> AsyncIterator[JobQueue]:
    load_jobs(settings.job_modules)
    database = Database(settings)
    queue = JobQueue(settings, database)
    use_queue(queue)
    yield queue
    await queue.close()
    use_queue(None)
    await database.dispose()


async def run(queue: JobQueue, job: str, **ids: object) -> None:
    assert await queue.submit(job, dict(ids)) == "local"
    await queue.drain()


async def test_weekly_digest_once_per_teacher_and_week(
    local_queue: JobQueue, settings: Settings, committed: AsyncEngine
) -> None:
    week = last_week(utcnow())
    start, end = week_bounds(week)
    inside = start + timedelta(days=2)
    async with local_queue.database.session() as session:
        keen = await create_user(session, settings, role=UserRole.TEACHER, digest_emails=True)
        quiet = await create_user(session, settings, role=UserRole.TEACHER)
        course = await create_course(session, keen, title="Algebra", lessons=2)
        await create_course(session, quiet, title="Quiet course")
        old = await create_user(session, settings)
        await enroll(session, old, course, enrolled_at=start - timedelta(days=3))
        for _ in range(2):
            learner = await create_user(session, settings)
            await enroll(session, learner, course, enrolled_at=inside)
        first = (
            await session.execute(select(Lesson.id).where(Lesson.course_id == course.id).limit(1))
        ).scalar_one()
        session.add(
            LessonCompletion(
                user_id=old.id, lesson_id=first, course_id=course.id, completed_at=inside
            )
        )
        session.add(
            LessonCompletion(
                user_id=learner.id, lesson_id=first, course_id=course.id, completed_at=end
            )
        )  # the next week: not counted
        keen_email = keen.email
    start_mail = len(MemoryBackend.outbox)
    await run(local_queue, "learning.weekly_digest")
    await run(local_queue, "learning.weekly_digest")
    mails = MemoryBackend.outbox[start_mail:]
    assert [m.to for m in mails] == [keen_email]
    assert mails[0].subject == "Your week on Campus: 2 new students, 1 lesson completed"
    assert "Algebra: 2 new students, 1 lesson completed" in mails[0].text
    assert await effect_keys(committed, "digest:") == [f"digest:{keen.id}:{week}"]


async def test_teacher_digest_bad_input_fails_for_good(
    local_queue: JobQueue, committed: AsyncEngine
) -> None:
    from tests.jobs.conftest import failed_jobs

    await run(local_queue, "learning.teacher_digest", teacher_id=1, week="last tuesday")
    await run(local_queue, "learning.teacher_digest", teacher_id=987654, week="2026-W01")
    errors = [f.error for f in await failed_jobs(committed)]
    assert errors == ["not an ISO week: 'last tuesday'", "user 987654 does not exist"]


async def test_cleanup_removes_what_nothing_can_use(
    local_queue: JobQueue, settings: Settings, committed: AsyncEngine
) -> None:
    now = utcnow()
    async with local_queue.database.session() as session:
        user = await create_user(session, settings)

        def auth(name: str, **kw: object) -> AuthSession:
            return AuthSession(
                id=f"{name}-{secrets.token_hex(4)}",
                user_id=user.id,
                expires_at=kw.pop("expires_at", now + timedelta(days=1)),
                **kw,
            )

        session.add_all(
            [
                auth("live"),
                auth("expired", expires_at=now - timedelta(minutes=1)),
                auth("ended-long-ago", revoked_at=now - timedelta(days=2)),
                auth("ended-just-now", revoked_at=now - timedelta(minutes=5)),
            ]
        )

        def token(**kw: object) -> AccountToken:
            return AccountToken(
                user_id=user.id,
                purpose=AccountTokenPurpose.PASSWORD_RESET,
                token_hash=secrets.token_hex(32),
                expires_at=kw.pop("expires_at", now + timedelta(hours=1)),
                **kw,
            )

        session.add_all(
            [
                token(),
                token(expires_at=now - timedelta(seconds=1)),
                token(used_at=now - timedelta(days=3)),
            ]
        )
        session.add(
            JobEffect(key="email:old", job="email.send", created_at=now - timedelta(days=8))
        )
        session.add(JobEffect(key="email:new", job="email.send", created_at=now))
        session.add_all(
            [
                AccountEvent(user_id=user.id, kind=AccountEventKind.SIGN_IN, method="kept"),
                AccountEvent(
                    user_id=user.id,
                    kind=AccountEventKind.SIGN_IN,
                    method="old",
                    created_at=now - timedelta(days=181),
                ),
            ]
        )
        session.add(
            JobEffect(key="digest:1:2020-W01", job="d", created_at=now - timedelta(days=99))
        )
    await run(local_queue, "accounts.cleanup")
    async with local_queue.database.session() as session:
        ids = sorted(i.split("-")[0] for i in (await session.scalars(select(AuthSession.id))))
        assert ids == ["ended", "live"]
        assert await session.scalar(select(func.count(AccountToken.id))) == 1
        assert list(await session.scalars(select(AccountEvent.method))) == ["kept"]
    assert await effect_keys(committed) == ["digest:1:2020-W01", "email:new"]
