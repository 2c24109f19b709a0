"""A certificate in a browser: pass the quiz, complete the course, find the certificate in
the cabinet, open its page, download the PDF; anyone (signed out) can open the page."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path
from typing import Any

import pypdf
from sqlalchemy.ext.asyncio import AsyncSession

from campus.config import Settings
from campus.models.accounts import UserRole
from campus.models.assessments import QuestionKind, Quiz, QuizOption, QuizQuestion
from tests.browser.conftest import snap
from tests.factories import DEFAULT_PASSWORD, create_course, create_lesson, create_user, enroll

STUDENT = "Анна Каренина-Толстая"
COURSE = "Основы FastAPI"


async def _sign_in(page: Any, email: str) -> None:
    await page.goto("/login")
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await page.get_by_text("Signed in as").wait_for()


async def test_pass_complete_open_and_download_the_certificate(
    page: Any, db: AsyncSession, settings: Settings
) -> None:
    teacher = await create_user(db, settings, role=UserRole.TEACHER, full_name="Tess Teacher")
    student = await create_user(db, settings, full_name=STUDENT)
    admin = await create_user(db, settings, role=UserRole.ADMIN, full_name="Ada Admin")
    course = await create_course(db, teacher, title=COURSE)
    first = await create_lesson(db, course, position=1, title="Project setup")
    second = await create_lesson(db, course, position=2, title="Routes")
    await enroll(db, student, course)
    quiz = Quiz(lesson_id=first.id, course_id=course.id, title="Check", pass_percent=50)
    db.add(quiz)
    await db.flush()
    question = QuizQuestion(
        quiz_id=quiz.id,
        position=1,
        kind=QuestionKind.SINGLE_CHOICE,
        prompt="Which command adds a dependency?",
        points=1,
    )
    db.add(question)
    await db.flush()
    db.add_all(
        [
            QuizOption(question_id=question.id, position=1, text="uv add", is_correct=True),
            QuizOption(question_id=question.id, position=2, text="pip freeze", is_correct=False),
        ]
    )
    await db.commit()

    await _sign_in(page, student.email)
    await page.goto(f"/courses/{course.id}/lessons/{first.id}/quiz")
    await page.get_by_role("button", name="Start the quiz").click()
    await page.get_by_label("uv add").check()
    await page.get_by_role("button", name="Submit answers").click()
    await page.get_by_text("Your answers were submitted.").wait_for()
    await page.goto(f"/courses/{course.id}/lessons/{second.id}")
    await page.get_by_role("button", name="Mark complete").click()
    await page.get_by_text("Course complete — well done!").wait_for()

    # The certificate is issued by a job after the commit: the cabinet shows it soon after.
    link = page.locator(".certificate-list a", has_text=COURSE)
    for _ in range(50):
        await page.goto("/cabinet")
        if await link.count():
            break
        await asyncio.sleep(0.2)
    assert await link.count() == 1
    await page.locator(".certificate-list", has_text="Valid").wait_for()
    await snap(page, "cabinet-certificates")

    await link.click()
    await page.get_by_role("heading", name="Certificate of completion").wait_for()
    for text in (STUDENT, COURSE, "Tess Teacher", "✓ Valid"):
        await page.get_by_text(text, exact=True).first.wait_for()
    # The header keeps the signed-in user.
    await page.get_by_role("button", name="Sign out").wait_for()
    await snap(page, "certificate")
    url = page.url

    async with page.expect_download() as downloading:
        await page.get_by_role("link", name="Download PDF").click()
    download = await downloading.value
    path = await download.path()
    data = Path(path).read_bytes()  # noqa: ASYNC240 - a small local file
    assert data.startswith(b"%PDF-")
    text = pypdf.PdfReader(io.BytesIO(data)).pages[0].extract_text()
    assert STUDENT in text
    assert COURSE in text

    await page.get_by_role("button", name="Sign out").click()
    await page.get_by_role("link", name="Sign in").first.wait_for()
    await page.goto(url)  # anyone may verify it, signed out
    await page.get_by_text(STUDENT, exact=True).wait_for()
    await page.get_by_text("✓ Valid").wait_for()
    await snap(page, "certificate-public")

    # An admin revokes it from the page: from then on it shows as revoked, to anyone.
    await _sign_in(page, admin.email)
    await page.goto(url)
    await page.get_by_label("Reason (shown on this page)").fill("Issued by mistake")
    await page.get_by_role("button", name="Revoke").click()
    await page.get_by_text("The certificate is revoked.").wait_for()
    await page.get_by_text("✗ Revoked").wait_for()
    await page.get_by_text("Reason: Issued by mistake").wait_for()
    await snap(page, "certificate-revoked")
    assert page.console_errors == []
