"""The course chat live in Chromium: two browsers (a teacher and a student) see each
other's messages without reloading, over the socket; the bell counts a new notification."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from campus.config import Settings
from campus.models.accounts import UserRole
from tests.browser.conftest import LiveServer, snap
from tests.factories import DEFAULT_PASSWORD, auth_headers, create_course, create_user, enroll


async def _sign_in(page: Any, email: str) -> None:
    await page.goto("/login")
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await page.get_by_role("button", name="Sign out").wait_for()


async def _no_horizontal_overflow(page: Any) -> None:
    for width in (390, 1280):
        await page.set_viewport_size({"width": width, "height": 900})
        overflow = await page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"horizontal overflow of {overflow}px at {width}px"


async def test_two_browsers_chat_live(
    page: Any, browser: Any, live_server: LiveServer, db: AsyncSession, settings: Settings
) -> None:
    teacher = await create_user(db, settings, role=UserRole.TEACHER, full_name="Tess Teacher")
    student = await create_user(db, settings, full_name="Lea Learner")
    course = await create_course(db, teacher, title="Live chat course")
    await enroll(db, student, course)
    teacher_headers = await auth_headers(db, settings, teacher)
    await db.commit()

    other_context = await browser.new_context(
        base_url=live_server.url, viewport={"width": 1280, "height": 900}
    )
    other_context.set_default_timeout(15_000)
    teacher_page = await other_context.new_page()
    errors: list[str] = []
    teacher_page.on("pageerror", lambda exc: errors.append(str(exc)))
    teacher_page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    try:
        await _sign_in(page, student.email)
        await _sign_in(teacher_page, teacher.email)
        chat = f"/courses/{course.id}/chat"
        await page.goto(f"/courses/{course.id}")
        await page.get_by_role("link", name="Course chat").click()
        await page.wait_for_url(f"**{chat}")
        await teacher_page.goto(chat)
        for p in (page, teacher_page):
            await p.locator('#chat[data-live="1"]').wait_for()

        await page.get_by_label("Message").fill("Hello from the student 👋")
        await page.get_by_role("button", name="Send").click()
        await teacher_page.locator(".chat-msg", has_text="Hello from the student").wait_for()
        await teacher_page.get_by_label("Message").fill("Welcome, Lea! <script>x</script>")
        await teacher_page.get_by_role("button", name="Send").click()
        await page.locator(".chat-msg", has_text="Welcome, Lea!").wait_for()
        assert await page.locator(".chat-msg", has_text="<script>x</script>").count() == 1
        # Sent over the socket: the page was not reloaded and the box is empty again.
        assert await page.get_by_label("Message").input_value() == ""

        # A new lesson notifies the student: the bell counts it live.
        async with httpx.AsyncClient(base_url=live_server.url) as client:
            made = await client.post(
                f"/api/v1/courses/{course.id}/lessons",
                json={"title": "Bonus lesson", "content": "text"},
                headers=teacher_headers,
            )
            assert made.status_code == 201
        await page.locator("#bell-count", has_text="1").wait_for()

        await snap(page, "chat-student")
        await snap(teacher_page, "chat-teacher")
        await _no_horizontal_overflow(page)

        # Without JavaScript's socket the form still posts (a reload shows both).
        await page.reload()
        assert await page.locator(".chat-msg").count() == 2
        await page.goto("/notifications")
        await page.get_by_text("New lesson in Live chat course: Bonus lesson").wait_for()
        await snap(page, "notifications")
        await page.goto("/cabinet")
        await page.get_by_text("New lesson in Live chat course: Bonus lesson").wait_for()
        await snap(page, "cabinet-notifications")
        assert page.console_errors == []
        assert errors == []
    finally:
        await other_context.close()


async def test_chat_form_posts_without_javascript(
    browser: Any, live_server: LiveServer, db: AsyncSession, settings: Settings, page: Any
) -> None:
    student = await create_user(db, settings, full_name="No Script")
    teacher = await create_user(db, settings, role=UserRole.TEACHER)
    course = await create_course(db, teacher, title="Plain forms")
    await enroll(db, student, course)
    await db.commit()
    context = await browser.new_context(base_url=live_server.url, java_script_enabled=False)
    try:
        plain = await context.new_page()
        await _sign_in(plain, student.email)
        await plain.goto(f"/courses/{course.id}/chat")
        await plain.get_by_label("Message").fill("posted by a form")
        await plain.get_by_role("button", name="Send").click()
        await plain.locator(".chat-msg", has_text="posted by a form").wait_for()
    finally:
        await context.close()
