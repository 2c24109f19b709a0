"""Task inputs and outputs (API.md §6)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, field_validator

from campus.kit.schemas import InputSchema, Schema, check_text
from campus.models.tasks import TaskPriority, TaskStatus

__all__ = [
    "SearchText",
    "TaskCreate",
    "TaskFilters",
    "TaskPriority",
    "TaskRead",
    "TaskReplace",
    "TaskStatus",
    "TaskUpdate",
    "UTCInstant",
]

MAX_INT32 = 2**31 - 1
TITLE_MAX = 200
DESCRIPTION_MAX = 2000
QUERY_MAX = 200


def _strip(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


def _not_blank(value: str) -> str:
    if not value:
        raise ValueError("title must not be blank")
    return value


def as_utc(value: datetime) -> datetime:
    """Aware values are converted to UTC; naive ones are read as UTC (documented)."""
    if value.tzinfo is None or value.utcoffset() is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError as exc:
        raise ValueError("date-time is out of range") from exc


Title = Annotated[
    str,
    BeforeValidator(_strip),
    Field(
        max_length=TITLE_MAX,
        description=(
            f"1..{TITLE_MAX} characters. Surrounding whitespace is removed before the checks; "
            "a blank title is a 422."
        ),
        examples=["Read the lesson on dependencies"],
    ),
    AfterValidator(_not_blank),
]
Description = Annotated[
    str | None,
    Field(
        max_length=DESCRIPTION_MAX,
        description=f"Free text, at most {DESCRIPTION_MAX} characters, or null.",
    ),
]
UTCInstant = Annotated[datetime, AfterValidator(as_utc)]
SearchText = Annotated[str, AfterValidator(check_text)]  # NUL / lone surrogates: 422
DueDate = Annotated[
    UTCInstant | None,
    Field(
        description=(
            "ISO 8601 date-time, e.g. `2026-12-01T17:00:00Z` or `2026-12-01T18:00:00+01:00`; "
            "returned in UTC. A value without an offset is read as UTC; a bare date "
            "(`2026-12-01`) means its midnight UTC. Null: no due date."
        ),
        examples=["2026-12-01T17:00:00Z"],
    ),
]
LessonRef = Annotated[
    int | None,
    Field(
        strict=True,
        ge=1,
        le=MAX_INT32,
        description=(
            "A lesson the user can read (a preview lesson of a visible course, a lesson of a "
            "course they are enrolled in, teach or administer); anything else is a 422. "
            "Becomes null when the lesson is deleted."
        ),
    ),
]


# The orders of a task list (API.md §6), for the API and the board alike.
TASK_SORTS = ("created_at", "updated_at", "due_date", "priority", "title", "status")
DEFAULT_TASK_SORT = "-created_at"


class TaskRead(Schema):
    id: int
    title: str
    description: str | None
    status: TaskStatus
    priority: TaskPriority
    is_completed: bool = Field(description='Always equal to `status == "completed"`.')
    due_date: datetime | None
    lesson_id: int | None
    owner_id: int
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None = Field(
        description=(
            "Set when the task becomes completed, cleared when it leaves that status, "
            "unchanged otherwise."
        )
    )


class TaskCreate(InputSchema):
    """A new task. Unknown fields are a 422."""

    title: Title
    description: Description = None
    status: TaskStatus = Field(default=TaskStatus.TODO, description="Default `todo`.")
    priority: TaskPriority = Field(default=TaskPriority.MEDIUM, description="Default `medium`.")
    due_date: DueDate = None
    lesson_id: LessonRef = None


class TaskReplace(TaskCreate):
    """PUT replaces the task: `title` is required, and every optional field left out is
    reset to its default (`description`, `due_date`, `lesson_id` to null, `status` to `todo`,
    `priority` to `medium`). Unknown fields are a 422."""


class TaskUpdate(InputSchema):
    """PATCH changes only the fields given. `title`, `status` and `priority` cannot be null;
    `description`, `due_date` and `lesson_id` can (null clears them). Unknown fields are a
    422."""

    title: Title | None = None
    description: Description = None
    status: TaskStatus | None = None
    priority: TaskPriority | None = None
    due_date: DueDate = None
    lesson_id: LessonRef = None

    @field_validator("title", "status", "priority", mode="before")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("must not be null")
        return value


@dataclass(frozen=True, slots=True)
class TaskFilters:
    """The list filters of GET /tasks (all optional, combined with AND)."""

    status: TaskStatus | None = None
    priority: TaskPriority | None = None
    lesson_id: int | None = None
    q: str | None = None
    due_before: datetime | None = None
    due_after: datetime | None = None


@dataclass(frozen=True, slots=True)
class TaskRow:
    """A task as the task list reads it: its columns as a plain row, not an ORM entity.

    The list is the hottest read of a signed-in student, and loading twenty ``Task``
    entities into the session's identity map was a measurable share of it
    (docs/performance.md, issue 20). Changes still go through the ORM ``Task``.
    """

    id: int
    owner_id: int
    title: str
    description: str | None
    status: TaskStatus
    priority: TaskPriority
    due_date: datetime | None
    lesson_id: int | None
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None

    @property
    def is_completed(self) -> bool:
        return self.status == TaskStatus.COMPLETED
