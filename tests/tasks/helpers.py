"""Arrange helpers for the task tests: users with headers, courses with lessons, tasks."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from campus.config import Settings
from campus.kit.clock import utcnow
from campus.models.accounts import User, UserRole
from campus.models.courses import Course, Lesson
from campus.models.tasks import Task, TaskPriority, TaskStatus
from tests import factories
from tests.factories import auth_headers, create_user

URL = "/api/v1/tasks"


async def user_with_headers(
    session: AsyncSession, settings: Settings, role: UserRole = UserRole.STUDENT
) -> tuple[User, dict[str, str]]:
    user = await create_user(session, settings, role=role)
    return user, await auth_headers(session, settings, user)


async def create_course(
    session: AsyncSession,
    teacher: User,
    *,
    published: bool = True,
    previews: tuple[bool, ...] = (True, False),
) -> tuple[Course, list[Lesson]]:
    """A course of ``teacher`` with one lesson per entry of ``previews`` (is_preview)."""
    course = await factories.create_course(session, teacher, is_published=published)
    lessons = [
        await factories.create_lesson(session, course, position=i, is_preview=preview)
        for i, preview in enumerate(previews, start=1)
    ]
    return course, lessons


enroll = factories.enroll


async def add_task(
    session: AsyncSession,
    owner: User,
    title: str = "A task",
    *,
    description: str | None = None,
    status: TaskStatus = TaskStatus.TODO,
    priority: TaskPriority = TaskPriority.MEDIUM,
    due_date: datetime | None = None,
    lesson_id: int | None = None,
    created_at: datetime | None = None,
    updated_at: datetime | None = None,
) -> Task:
    """A task row written directly (for list tests that need exact timestamps)."""
    now = utcnow()
    task = Task(
        owner_id=owner.id,
        title=title,
        description=description,
        status=status,
        priority=priority,
        due_date=due_date,
        lesson_id=lesson_id,
        created_at=created_at or now,
        updated_at=updated_at or created_at or now,
        completed_at=now if status == TaskStatus.COMPLETED else None,
    )
    session.add(task)
    await session.flush()
    return task


async def post_task(
    client: httpx.AsyncClient, headers: dict[str, str], **body: Any
) -> dict[str, Any]:
    body.setdefault("title", "A task")
    response = await client.post(URL, json=body, headers=headers)
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()
    return data


async def list_ids(client: httpx.AsyncClient, headers: dict[str, str], **params: Any) -> list[int]:
    response = await client.get(URL, params={"limit": 100, **params}, headers=headers)
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]
