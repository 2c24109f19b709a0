"""Due-task reminders: exactly once per (task, due date) across runs, re-armed by a new due
date, a mail only for users who opted in."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from campus.config import Settings
from campus.db import Database
from campus.email import MemoryBackend
from campus.jobs import JobQueue, load_jobs, use_queue
from campus.kit.clock import utcnow
from campus.models.tasks import Task, TaskReminder, TaskStatus
from tests.factories import create_user


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


async def run_reminders(queue: JobQueue) -> None:
    assert await queue.submit("tasks.send_due_reminders", {}) == "local"
    await queue.drain()


async def reminders(queue: JobQueue) -> list[tuple[int, str]]:
    async with queue.database.session() as session:
        rows = await session.execute(
            select(TaskReminder.task_id, TaskReminder.due_date).order_by(TaskReminder.id)
        )
        return [(task_id, due.isoformat()) for task_id, due in rows]


async def test_reminders_exactly_once_and_rearmed(
    local_queue: JobQueue, settings: Settings
) -> None:
    now = utcnow()
    async with local_queue.database.session() as session:
        keen = await create_user(session, settings, reminder_emails=True, full_name="Keen")
        quiet = await create_user(session, settings, full_name="Quiet")
        gone = await create_user(session, settings, is_active=False)
        tasks = {
            "soon": Task(
                owner_id=keen.id, title="Read lesson 3", due_date=now + timedelta(hours=2)
            ),
            "quiet": Task(owner_id=quiet.id, title="Quiz", due_date=now + timedelta(hours=20)),
            "later": Task(owner_id=keen.id, title="Later", due_date=now + timedelta(hours=30)),
            "overdue": Task(owner_id=keen.id, title="Late", due_date=now - timedelta(hours=1)),
            "done": Task(
                owner_id=keen.id,
                title="Done",
                due_date=now + timedelta(hours=3),
                status=TaskStatus.COMPLETED,
                completed_at=now,
            ),
            "undated": Task(owner_id=keen.id, title="Someday"),
            "inactive": Task(owner_id=gone.id, title="Gone", due_date=now + timedelta(hours=1)),
        }
        session.add_all(tasks.values())
        await session.flush()
        keen_email = keen.email
    start = len(MemoryBackend.outbox)

    await run_reminders(local_queue)
    await run_reminders(local_queue)  # a second run changes nothing
    await asyncio.gather(run_reminders(local_queue), run_reminders(local_queue))
    expected = [
        (tasks["soon"].id, tasks["soon"].due_date.isoformat()),
        (tasks["quiet"].id, tasks["quiet"].due_date.isoformat()),
    ]
    assert await reminders(local_queue) == expected
    mails = MemoryBackend.outbox[start:]
    assert [(m.to, m.subject) for m in mails] == [(keen_email, "Due soon: Read lesson 3")]
    assert "http://testserver/tasks" in mails[0].text

    # A new due date re-arms the reminder; the old one stays recorded.
    new_due = now + timedelta(hours=5)
    async with local_queue.database.session() as session:
        task = await session.get(Task, tasks["soon"].id)
        assert task is not None
        task.due_date = new_due
    await run_reminders(local_queue)
    await run_reminders(local_queue)
    assert await reminders(local_queue) == [*expected, (tasks["soon"].id, new_due.isoformat())]
    assert len(MemoryBackend.outbox[start:]) == 2


async def test_the_reminder_mail_is_in_the_owners_language(
    local_queue: JobQueue, settings: Settings
) -> None:
    """The job looks the owner's saved language up (no request to take it from)."""
    now = utcnow()
    async with local_queue.database.session() as session:
        owner = await create_user(
            session, settings, reminder_emails=True, full_name="Ivan", locale="ru"
        )
        session.add(Task(owner_id=owner.id, title="Essay", due_date=now + timedelta(hours=3)))
        await session.flush()
        email = owner.email
    start = len(MemoryBackend.outbox)
    await run_reminders(local_queue)
    [mail] = [m for m in MemoryBackend.outbox[start:] if m.to == email]
    assert mail.subject == "Скоро срок: Essay"
    assert "Здравствуйте, Ivan!" in mail.text
    assert "Срок вашей задачи «Essay» — " in mail.text
