"""Tasks: every learner's own to-do list (API.md §6).

Ownership is the only access rule: each query is scoped to the actor, so another user's
task is a 404 on every verb (admins included) and never shows up in a list or a count.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from campus.courses import service as course_service
from campus.db import referenced_rows_may_vanish
from campus.errors import Forbidden, NotFound, Unauthenticated, ValidationFailed
from campus.kit.clock import utcnow
from campus.kit.i18n import N_
from campus.kit.pagination.envelope import PageResult
from campus.kit.pagination.params import PageParams
from campus.models.accounts import User
from campus.models.tasks import Task, TaskStatus
from campus.tasks import repository
from campus.tasks.schemas import TaskCreate, TaskFilters, TaskReplace, TaskRow, TaskUpdate

TASK_NOT_FOUND = N_("Task not found.")


def _unreadable_lesson() -> ValidationFailed:
    return ValidationFailed.field(
        ["body", "lesson_id"],
        "lesson_id must be a lesson you can read (it does not exist, or you are not "
        "enrolled in its course)",
    )


async def _check_lesson(session: AsyncSession, actor: User, lesson_id: int) -> None:
    """A task may point only at a lesson the actor can read (the §4 rule), else 422."""
    try:
        await course_service.get_readable_lesson(session, actor, lesson_id=lesson_id)
    except (NotFound, Forbidden, Unauthenticated) as exc:
        raise _unreadable_lesson() from exc


async def _flush_lesson_link(session: AsyncSession) -> None:
    """Write the task; a lesson deleted since it was checked is the same 422 as a missing
    one (the delete won the race), never a foreign-key 500."""
    async with referenced_rows_may_vanish(session, _unreadable_lesson()):
        await session.flush()


def _set_status(task: Task, status: TaskStatus, now: datetime) -> None:
    """The status rule: completed_at is set on becoming completed, cleared on leaving it."""
    if task.status == status:
        return
    task.status = status
    task.completed_at = now if status == TaskStatus.COMPLETED else None


async def _owned(session: AsyncSession, actor: User, task_id: int) -> Task:
    task = await repository.get_owned_task(session, owner_id=actor.id, task_id=task_id)
    if task is None:
        raise NotFound(TASK_NOT_FOUND)
    return task


async def create_task(session: AsyncSession, actor: User, *, data: TaskCreate) -> TaskRow:
    """A new task of the actor's: one INSERT ... RETURNING (and, with a lesson, the check
    that the actor may read it first)."""
    if data.lesson_id is not None:
        await _check_lesson(session, actor, data.lesson_id)
    now = utcnow()
    values = {
        "owner_id": actor.id,
        "title": data.title,
        "description": data.description,
        "status": data.status,
        "priority": data.priority,
        "due_date": data.due_date,
        "lesson_id": data.lesson_id,
        "created_at": now,
        "updated_at": now,
        "completed_at": now if data.status == TaskStatus.COMPLETED else None,
    }
    if data.lesson_id is None:
        return await repository.insert_task(session, **values)
    # A lesson deleted since it was checked is the same 422 as a missing one (the delete
    # won the race), never a foreign-key 500; the board page goes on after that 422, so
    # the write runs in a savepoint.
    async with referenced_rows_may_vanish(session, _unreadable_lesson()):
        return await repository.insert_task(session, **values)


async def list_tasks(
    session: AsyncSession, actor: User, *, filters: TaskFilters, params: PageParams
) -> PageResult[TaskRow]:
    """One page of the actor's own tasks; ``due_after`` later than ``due_before`` is a 422."""
    if (
        filters.due_before is not None
        and filters.due_after is not None
        and filters.due_after > filters.due_before
    ):
        raise ValidationFailed.field(
            ["query", "due_after"], "due_after must not be later than due_before"
        )
    return await repository.list_tasks(
        session,
        params,
        owner_id=actor.id,
        status=filters.status,
        priority=filters.priority,
        lesson_id=filters.lesson_id,
        q=filters.q or None,
        due_before=filters.due_before,
        due_after=filters.due_after,
    )


async def get_task(session: AsyncSession, actor: User, *, task_id: int) -> Task:
    return await _owned(session, actor, task_id)


async def replace_task(
    session: AsyncSession, actor: User, *, task_id: int, data: TaskReplace
) -> Task:
    """PUT: every field takes the given value or its default (see TaskReplace)."""
    task = await _owned(session, actor, task_id)
    # A lesson already linked stays valid even if the actor has since lost access to it:
    # only a change of lesson is checked, so GET-then-PUT always round-trips.
    if data.lesson_id is not None and data.lesson_id != task.lesson_id:
        await _check_lesson(session, actor, data.lesson_id)
    now = utcnow()
    task.title = data.title
    task.description = data.description
    task.priority = data.priority
    task.due_date = data.due_date
    lesson_changed = data.lesson_id is not None and data.lesson_id != task.lesson_id
    task.lesson_id = data.lesson_id
    _set_status(task, data.status, now)
    if lesson_changed:
        await _flush_lesson_link(session)
    else:
        await session.flush()
    return task


async def update_task(
    session: AsyncSession, actor: User, *, task_id: int, data: TaskUpdate
) -> Task:
    """PATCH: only the fields present in the body change."""
    task = await _owned(session, actor, task_id)
    changes = data.model_dump(exclude_unset=True)
    lesson_id = changes.get("lesson_id")
    lesson_changed = lesson_id is not None and lesson_id != task.lesson_id
    if lesson_id is not None and lesson_changed:
        await _check_lesson(session, actor, lesson_id)
    now = utcnow()
    for name in ("title", "description", "priority", "due_date", "lesson_id"):
        if name in changes:
            setattr(task, name, changes[name])
    if "status" in changes:
        _set_status(task, changes["status"], now)
    if lesson_changed:
        await _flush_lesson_link(session)
    else:
        await session.flush()
    return task


async def delete_task(session: AsyncSession, actor: User, *, task_id: int) -> Task:
    """Delete the task; returns it as it was (its columns stay readable)."""
    task = await _owned(session, actor, task_id)
    await session.delete(task)
    await session.flush()
    return task


async def complete_task(session: AsyncSession, actor: User, *, task_id: int) -> Task:
    """Mark the task completed; idempotent (a second call keeps the first completed_at)."""
    task = await _owned(session, actor, task_id)
    _set_status(task, TaskStatus.COMPLETED, utcnow())
    await session.flush()
    return task


DUE_SOON_DAYS = 7
DUE_SOON_MAX = 5


async def list_tasks_due_soon(
    session: AsyncSession,
    actor: User,
    *,
    days: int = DUE_SOON_DAYS,
    limit: int = DUE_SOON_MAX,
) -> list[Task]:
    """The actor's open tasks due within ``days`` from now, or overdue; soonest first."""
    until = utcnow() + timedelta(days=days)
    return await repository.open_tasks_due_by(session, owner_id=actor.id, until=until, limit=limit)
