"""The task board in a browser: create (linked to a lesson) -> complete -> filter; the
cabinet shows the tasks due soon."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from campus.config import Settings
from campus.models.accounts import UserRole
from campus.tasks import service as tasks_service
from campus.tasks.schemas import TaskCreate
from tests.browser.conftest import snap
from tests.factories import DEFAULT_PASSWORD, create_course, create_lesson, create_user, enroll


async def test_task_board_create_complete_filter(
    page: Any, db: AsyncSession, settings: Settings
) -> None:
    teacher = await create_user(db, settings, role=UserRole.TEACHER, full_name="Tess Teacher")
    course = await create_course(db, teacher, title="Build a task API")
    await create_lesson(db, course, position=1, title="Project setup")
    lesson = await create_lesson(db, course, position=2, title="The Task model")
    student = await create_user(db, settings, full_name="Sam Student")
    await enroll(db, student, course)
    now = datetime.combine(datetime.now(UTC).date(), time(23, 59, 59), tzinfo=UTC)
    for title, fields in (
        ("Review pagination notes", {"priority": "low", "description": "Skim chapter 8 again."}),
        (
            "Write tests for the ownership rule",
            {"priority": "high", "status": "in_progress", "due_date": now + timedelta(days=1)},
        ),
        ("Set up uv and the project", {"priority": "medium", "status": "completed"}),
        ("Read about async sessions", {"priority": "medium", "due_date": now - timedelta(days=1)}),
    ):
        await tasks_service.create_task(
            db, student, data=TaskCreate.model_validate({"title": title, **fields})
        )
    await db.commit()

    await page.goto("/login?next=/tasks")
    await page.get_by_label("Email").fill(student.email)
    await page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await page.get_by_role("heading", level=1, name="My tasks").wait_for()

    await page.get_by_text("+ New task").click()
    form = page.get_by_role("form", name="New task")
    await form.get_by_label("Title").fill("Finish the Task model exercise")
    await form.get_by_label("Notes").fill("Add the priority enum and timestamps.")
    await form.get_by_label("Priority").select_option("high")
    due = (now + timedelta(days=3)).date()
    await form.get_by_label("Due date").fill(due.isoformat())
    await form.get_by_label("Lesson").select_option(str(lesson.id))
    await snap(page, "task-new")
    await form.get_by_role("button", name="Add task").click()
    await page.get_by_text("Task “Finish the Task model exercise” added.").wait_for()
    card = page.locator(".task", has_text="Finish the Task model exercise")
    assert "High priority" in await card.inner_text()
    assert f"Due {due.strftime('%b')} {due.day}, {due.year}" in await card.inner_text()
    await card.get_by_role("link", name="The Task model", exact=True).wait_for()
    await snap(page, "task-board")

    await card.get_by_role("button", name="Complete “Finish the Task model exercise”").click()
    await page.get_by_text("Task “Finish the Task model exercise” completed. Nice work!").wait_for()
    done_column = page.locator(".column-completed")
    assert "Finish the Task model exercise" in await done_column.inner_text()

    await page.get_by_role("link", name="Completed", exact=True).click()
    await page.get_by_text("2 tasks match the filters.").wait_for()
    assert await page.locator(".column").count() == 1
    filters = page.get_by_role("search", name="Filter tasks")
    await filters.get_by_label("Priority").select_option("high")
    await filters.get_by_role("button", name="Apply").click()
    await page.get_by_text("1 task matches the filters.").wait_for()
    assert "status=completed" in page.url
    assert "priority=high" in page.url
    assert await page.locator(".task").count() == 1
    await snap(page, "task-board-filtered")

    await page.get_by_role("link", name="My learning").click()
    due_soon = page.get_by_role("complementary", name="Tasks due soon")
    await due_soon.wait_for()
    text = await due_soon.inner_text()
    assert text.index("Read about async sessions") < text.index("Write tests for the ownership")
    assert "Finish the Task model exercise" not in text  # completed
    await snap(page, "cabinet-due-soon")
    assert page.console_errors == []
