"""SQL for tasks. Every statement is scoped to one owner: another user's task does not exist."""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Select,
    Table,
    bindparam,
    case,
    func,
    insert,
    literal,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from campus.kit.clock import utcnow
from campus.kit.pagination.envelope import PageResult
from campus.kit.pagination.params import PageParams
from campus.kit.pagination.statements import ListQuery, fetch_page
from campus.kit.text import fold, like_contains, search_document
from campus.kit.types import UTCDateTime
from campus.models.accounts import User
from campus.models.courses import Course, Lesson
from campus.models.tasks import Task, TaskPriority, TaskReminder, TaskStatus
from campus.tasks.schemas import TaskRow

# Tasks without a due date sort as if due after every date: last ascending, first descending.
_NO_DUE_DATE = datetime.max.replace(tzinfo=UTC)

PRIORITY_RANK = {TaskPriority.LOW: 0, TaskPriority.MEDIUM: 1, TaskPriority.HIGH: 2}
STATUS_RANK = {TaskStatus.TODO: 0, TaskStatus.IN_PROGRESS: 1, TaskStatus.COMPLETED: 2}

SORT_COLUMNS: Mapping[str, ColumnElement[Any]] = {
    "created_at": Task.created_at.expression,
    "updated_at": Task.updated_at.expression,
    "due_date": func.coalesce(Task.due_date, literal(_NO_DUE_DATE, UTCDateTime())),
    "priority": case(PRIORITY_RANK, value=Task.priority),
    # Case-insensitive: lower() folds ASCII on SQLite, and by the database locale on PostgreSQL.
    "title": func.lower(Task.title),
    "status": case(STATUS_RANK, value=Task.status),
}
TIE_BREAKER: ColumnElement[int] = Task.id.expression
LIKE_ESCAPE = "\\"


def owned_by(owner_id: int) -> ColumnElement[bool]:
    return Task.owner_id == owner_id


async def get_owned_task(session: AsyncSession, *, owner_id: int, task_id: int) -> Task | None:
    stmt = select(Task).where(Task.id == task_id, owned_by(owner_id))
    return (await session.execute(stmt)).scalar_one_or_none()


def list_query(
    *,
    owner_id: int,
    status: TaskStatus | None = None,
    priority: TaskPriority | None = None,
    lesson_id: int | None = None,
    q: str | None = None,
    due_before: datetime | None = None,
    due_after: datetime | None = None,
) -> ListQuery:
    """The owner's tasks matching every given filter (order and page applied by the caller).

    The statements are built once per set of filters present; the values are bound.
    """
    given = {
        "owner_id": owner_id,
        "status": status,
        "priority": priority,
        "lesson_id": lesson_id,
        "q_pattern": like_contains(fold(q), LIKE_ESCAPE) if q else None,
        "due_before": due_before,
        "due_after": due_after,
    }
    values = {name: value for name, value in given.items() if value is not None}
    shape = tuple(sorted(values))
    page, count = _list_statements(shape)
    return ListQuery(page=page, count=count, values=values, shape=("tasks", shape))


async def list_tasks(
    session: AsyncSession,
    params: PageParams,
    *,
    owner_id: int,
    status: TaskStatus | None = None,
    priority: TaskPriority | None = None,
    lesson_id: int | None = None,
    q: str | None = None,
    due_before: datetime | None = None,
    due_after: datetime | None = None,
) -> PageResult[TaskRow]:
    """One page of :func:`list_query` and its total, read with Core (rows, not entities)."""
    query = list_query(
        owner_id=owner_id,
        status=status,
        priority=priority,
        lesson_id=lesson_id,
        q=q,
        due_before=due_before,
        due_after=due_after,
    )
    result: PageResult[Any] = await fetch_page(
        session,
        query,
        params,
        sort_columns=SORT_COLUMNS,
        tie_breaker=TIE_BREAKER,
        scalars=False,
        core=True,
    )
    result.items = [TaskRow(*row) for row in result.items]
    return result


@cache
def _list_statements(present: tuple[str, ...]) -> tuple[Select[Any], Select[Any]]:
    conditions: list[ColumnElement[bool]] = []
    for name in present:
        if name == "q_pattern":
            # search_text is the folded title and description (see the model); q alike.
            conditions.append(Task.search_text.like(bindparam(name), escape=LIKE_ESCAPE))
        else:
            column, compare = _FILTERS[name]
            conditions.append(compare(column, bindparam(name)))
    page = select(*ROW_COLUMNS).where(*conditions)
    count = select(func.count()).select_from(Task).where(*conditions)
    return page, count


# The columns of a TaskRow, in its field order.
ROW_COLUMNS: tuple[ColumnElement[Any], ...] = (
    Task.id.expression,
    Task.owner_id.expression,
    Task.title.expression,
    Task.description.expression,
    Task.status.expression,
    Task.priority.expression,
    Task.due_date.expression,
    Task.lesson_id.expression,
    Task.created_at.expression,
    Task.updated_at.expression,
    Task.completed_at.expression,
)


_INSERTED_FIELDS = (
    "owner_id",
    "title",
    "description",
    "status",
    "priority",
    "due_date",
    "lesson_id",
    "created_at",
    "updated_at",
    "completed_at",
    "search_text",
)


@cache
def _task_insert() -> Any:
    """``INSERT INTO tasks ... RETURNING`` :data:`ROW_COLUMNS`, built once: a new task is
    one statement and its row, with no ORM unit of work (no entity, no flush)."""
    table = cast(Table, Task.__table__)
    values = {name: bindparam(name, type_=table.c[name].type) for name in _INSERTED_FIELDS}
    return insert(table).values(values).returning(*ROW_COLUMNS)


async def insert_task(session: AsyncSession, **values: Any) -> TaskRow:
    """Insert a task with every column of :data:`_INSERTED_FIELDS` given; its row. The
    search document is filled here, as the model's events fill it for an ORM write."""
    values["search_text"] = search_document(values["title"], values["description"])
    connection = await session.connection()
    row = (await connection.execute(_task_insert(), values)).one()
    return TaskRow(*row)


_FILTERS: Mapping[str, tuple[Any, Callable[[Any, Any], ColumnElement[bool]]]] = {
    "owner_id": (Task.owner_id, operator.eq),
    "status": (Task.status, operator.eq),
    "priority": (Task.priority, operator.eq),
    "lesson_id": (Task.lesson_id, operator.eq),
    "due_before": (Task.due_date, operator.le),
    "due_after": (Task.due_date, operator.ge),
}


async def open_tasks_due_by(
    session: AsyncSession, *, owner_id: int, until: datetime, limit: int
) -> list[Task]:
    """The owner's tasks not completed and due at or before ``until`` (overdue ones too),
    soonest first."""
    stmt = (
        select(Task)
        .where(
            owned_by(owner_id),
            Task.status != TaskStatus.COMPLETED,
            Task.due_date.is_not(None),
            Task.due_date <= until,
        )
        .order_by(Task.due_date, Task.id)
        .limit(limit)
    )
    return list((await session.execute(stmt)).scalars().all())


async def owner_task_titles(session: AsyncSession, *, owner_id: int) -> set[str]:
    stmt = select(Task.title).where(owned_by(owner_id))
    return set((await session.execute(stmt)).scalars().all())


async def published_lesson_ids(session: AsyncSession, *, limit: int) -> list[int]:
    """Lessons of published courses, in catalog order (for the demo data)."""
    stmt = (
        select(Lesson.id)
        .join(Course, Course.id == Lesson.course_id)
        .where(Course.is_published.is_(True))
        .order_by(Course.id, Lesson.position)
        .limit(limit)
    )
    return list((await session.execute(stmt)).scalars().all())


async def lesson_ids_by_position(session: AsyncSession, *, course_id: int) -> dict[int, int]:
    """Position -> lesson id for one course (for the demo data)."""
    stmt = select(Lesson.position, Lesson.id).where(Lesson.course_id == course_id)
    rows = (await session.execute(stmt)).all()
    return {row[0]: row[1] for row in rows}


@dataclass(frozen=True, slots=True)
class DueTask:
    task_id: int
    owner_id: int
    title: str
    due_date: datetime
    email: str
    full_name: str
    reminder_emails: bool
    locale: str | None = None  # the owner's language (the reminder mail's)


async def tasks_to_remind(
    session: AsyncSession, *, now: datetime, until: datetime, limit: int
) -> list[DueTask]:
    """Open tasks of active users due in ``(now, until]`` that have no reminder for their
    current due date yet (``ix_tasks_due_date``), soonest first."""
    reminded = (
        select(TaskReminder.id)
        .where(TaskReminder.task_id == Task.id, TaskReminder.due_date == Task.due_date)
        .exists()
    )
    stmt = (
        select(
            Task.id,
            Task.owner_id,
            Task.title,
            Task.due_date,
            User.email,
            User.full_name,
            User.reminder_emails,
            User.locale,
        )
        .join(User, User.id == Task.owner_id)
        .where(
            Task.due_date > now,
            Task.due_date <= until,
            Task.status != TaskStatus.COMPLETED,
            User.is_active.is_(True),
            ~reminded,
        )
        .order_by(Task.due_date, Task.id)
        .limit(limit)
    )
    return [
        DueTask(row[0], row[1], row[2], row[3] or now, row[4], row[5], row[6], row[7])
        for row in (await session.execute(stmt)).all()
    ]


async def add_reminder(
    session: AsyncSession, *, task_id: int, user_id: int, due_date: datetime, emailed: bool
) -> bool:
    """Record the reminder of (task, due date); False if it exists (another run won)."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    insert: Any = dialect.insert(TaskReminder)
    stmt = (
        insert.values(
            task_id=task_id,
            user_id=user_id,
            due_date=due_date,
            emailed=emailed,
            created_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["task_id", "due_date"])
        .returning(TaskReminder.id)
    )
    return (await session.execute(stmt)).scalar_one_or_none() is not None
