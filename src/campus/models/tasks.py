from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, String, Text, UniqueConstraint, event
from sqlalchemy.orm import Mapped, mapped_column

from campus.db import Base
from campus.kit.text import search_document
from campus.kit.types import UTCDateTime
from campus.models._columns import created_at_column, str_enum, updated_at_column


class TaskStatus(enum.StrEnum):
    TODO = "todo"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"


class TaskPriority(enum.StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class Task(Base):
    __tablename__ = "tasks"
    __table_args__ = (
        Index("ix_tasks_owner_id_status", "owner_id", "status"),
        Index("ix_tasks_owner_id_due_date", "owner_id", "due_date"),
        Index("ix_tasks_owner_id_created_at", "owner_id", "created_at"),
        Index("ix_tasks_owner_id_updated_at", "owner_id", "updated_at"),
        Index("ix_tasks_lesson_id", "lesson_id"),
        # The due-task reminders' scan (campus.tasks.jobs): every owner's tasks due soon.
        Index("ix_tasks_due_date", "due_date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(String(2000), nullable=True)
    status: Mapped[TaskStatus] = mapped_column(
        str_enum(TaskStatus, "task_status"), default=TaskStatus.TODO
    )
    priority: Mapped[TaskPriority] = mapped_column(
        str_enum(TaskPriority, "task_priority"), default=TaskPriority.MEDIUM
    )
    due_date: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    lesson_id: Mapped[int | None] = mapped_column(
        ForeignKey("lessons.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # Case-folded title and description (campus.kit.text.search_document), kept in step by
    # the mapper events below, so ``q`` is case-insensitive in every script on both databases.
    # No trigram index: a search always runs inside one owner's tasks (ix_tasks_owner_id_*).
    search_text: Mapped[str] = mapped_column(Text, default="", server_default="")

    @property
    def is_completed(self) -> bool:
        return self.status == TaskStatus.COMPLETED


@event.listens_for(Task, "before_insert")
@event.listens_for(Task, "before_update")
def _fill_search_text(_mapper: Any, _connection: Any, task: Task) -> None:
    task.search_text = search_document(task.title, task.description)


class TaskReminder(Base):
    """A due-task reminder that was sent: at most one per task and due date.

    Changing a task's due date re-arms its reminder (a new ``due_date`` is a new key).
    """

    __tablename__ = "task_reminders"
    __table_args__ = (UniqueConstraint("task_id", "due_date"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    due_date: Mapped[datetime] = mapped_column(UTCDateTime())
    emailed: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = created_at_column()
