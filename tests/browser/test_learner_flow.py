"""The learner's flow in a browser: register -> sign in -> search -> enroll -> read ->
mark complete -> the cabinet shows the progress."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from campus.config import Settings
from campus.models.accounts import UserRole
from tests.browser.conftest import snap
from tests.factories import create_course, create_lesson, create_user


async def test_register_enroll_learn_and_see_progress(
    page: Any, db: AsyncSession, settings: Settings
) -> None:
    teacher = await create_user(db, settings, role=UserRole.TEACHER, full_name="Tess Teacher")
    course = await create_course(
        db, teacher, title="Build a task API", description="From **zero** to tested API."
    )
    for n, title in enumerate(("Project setup", "The Task model", "CRUD endpoints"), start=1):
        await create_lesson(
            db,
            course,
            position=n,
            title=title,
            content=f"## {title}\n\nLesson text {n}.",
            duration_minutes=10,
        )
    await create_course(db, teacher, title="Unrelated course")
    await db.commit()

    await page.goto("/register")
    await page.get_by_label("Full name").fill("Lea Learner")
    await page.get_by_label("Email").fill("lea@campus.example")
    await page.get_by_label("Password").fill("lessons-every-day-42")
    await page.get_by_role("button", name="Create account").click()
    await page.get_by_text("Welcome to Campus, Lea Learner!").wait_for()
    await page.get_by_role("button", name="Sign out").click()
    await page.get_by_role("link", name="Sign in").click()
    await page.get_by_label("Email").fill("lea@campus.example")
    await page.get_by_label("Password").fill("lessons-every-day-42")
    await page.get_by_role("button", name="Sign in").click()
    await page.get_by_text("Signed in as Lea Learner.").wait_for()

    await page.get_by_role("searchbox", name="Search").fill("task api")
    await page.get_by_role("button", name="Search").click()
    await page.get_by_role("link", name="Build a task API").click()
    await page.get_by_role("button", name="Enroll for free").click()
    await page.get_by_text("You are enrolled. Enjoy the course!").wait_for()
    await page.get_by_role("link", name="Start the course").click()
    await page.get_by_role("heading", level=1, name="Project setup").wait_for()
    await page.get_by_role("button", name="Mark complete and continue").click()
    await page.get_by_text("Lesson complete: 1 of 3 done (33%).").wait_for()
    await page.get_by_role("heading", level=1, name="The Task model").wait_for()
    await snap(page, "lesson-enrolled")

    await page.get_by_role("link", name="My learning").click()
    await page.get_by_role("heading", name="My learning").wait_for()
    bar = page.get_by_label("Progress in Build a task API")
    assert await bar.get_attribute("value") == "33"
    assert "1 of 3 lessons" in await page.locator(".course-card").inner_text()
    await snap(page, "cabinet")
    assert page.console_errors == []
