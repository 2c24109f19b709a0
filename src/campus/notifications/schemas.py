"""Notification outputs (API.md §7)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import Field, computed_field

from campus.kit.schemas import Schema

__all__ = ["NotificationRead", "NotificationRow", "UnreadCount"]


@dataclass(frozen=True, slots=True)
class NotificationRow:
    """A notification as the list reads it: its columns as a plain row, not an ORM entity
    (loading a page of entities into the session was a measurable share of the list,
    docs/performance.md, issue 20). Changes still go through the ORM ``Notification``."""

    id: int
    kind: str
    title: str
    link: str | None
    data: dict[str, Any]
    created_at: datetime
    read_at: datetime | None


class NotificationRead(Schema):
    id: int
    kind: str = Field(
        description=(
            "What happened: `course.student_joined` (to the teacher), `lesson.published` (to "
            "the course's students), `payment.succeeded` / `payment.failed` / "
            "`payment.refunded`, `task.due_soon`; new kinds may appear."
        )
    )
    title: str = Field(description="One line for people.")
    link: str | None = Field(description="A page of this site about it, if any.")
    data: dict[str, Any] = Field(description="The kind's details (ids, titles).")
    created_at: datetime
    read_at: datetime | None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def is_read(self) -> bool:
        return self.read_at is not None


class UnreadCount(Schema):
    unread_count: int = Field(ge=0)
