"""A quiz in a browser: take it (timer shown), pass, complete the course; the teacher's
quiz editor and gradebook."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from campus.config import Settings
from campus.models.accounts import UserRole
from campus.models.assessments import QuestionKind, Quiz, QuizOption, QuizQuestion
from tests.browser.conftest import snap
from tests.factories import DEFAULT_PASSWORD, create_course, create_lesson, create_user, enroll


async def _sign_in(page: Any, email: str) -> None:
    await page.goto("/login")
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await page.get_by_text("Signed in as").wait_for()


async def test_take_a_quiz_pass_and_complete_the_course(
    page: Any, db: AsyncSession, settings: Settings
) -> None:
    teacher = await create_user(db, settings, role=UserRole.TEACHER, full_name="Tess Teacher")
    student = await create_user(db, settings, full_name="Lea Learner")
    course = await create_course(db, teacher, title="Build a task API")
    first = await create_lesson(db, course, position=1, title="Project setup")
    second = await create_lesson(db, course, position=2, title="The Task model")
    await enroll(db, student, course)
    quiz = Quiz(
        lesson_id=first.id,
        course_id=course.id,
        title="Check: project set-up",
        pass_percent=60,
        time_limit_seconds=600,
    )
    db.add(quiz)
    await db.flush()
    choice = QuizQuestion(
        quiz_id=quiz.id,
        position=1,
        kind=QuestionKind.SINGLE_CHOICE,
        prompt="Which command adds a dependency?",
        points=2,
        explanation="uv add records it in pyproject.toml and uv.lock.",
    )
    number = QuizQuestion(
        quiz_id=quiz.id,
        position=2,
        kind=QuestionKind.NUMBER,
        prompt="Which status code answers a successful create?",
        points=1,
        number_value=201,
        number_tolerance=0,
    )
    db.add_all([choice, number])
    await db.flush()
    db.add_all(
        [
            QuizOption(question_id=choice.id, position=1, text="uv add fastapi", is_correct=True),
            QuizOption(question_id=choice.id, position=2, text="pip freeze", is_correct=False),
        ]
    )
    await db.commit()

    await _sign_in(page, student.email)
    await page.goto(f"/courses/{course.id}/lessons/{first.id}")
    await page.get_by_role("link", name="Take the quiz to complete this lesson").click()
    await page.get_by_role("button", name="Start the quiz").click()
    await page.get_by_role("heading", name="Attempt 1").wait_for()
    timer = page.locator("time[data-countdown]")
    assert ":" in await timer.inner_text()
    await page.get_by_label("uv add fastapi").check()
    await page.get_by_label("Your answer (a number)").fill("201")
    await snap(page, "quiz-attempt")
    await page.get_by_role("button", name="Submit answers").click()
    await page.get_by_text("Your answers were submitted.").wait_for()
    assert "3 / 3" in await page.locator(".quiz-score").inner_text()
    await page.get_by_text("uv add records it").wait_for()
    await snap(page, "quiz-result")

    await page.goto(f"/courses/{course.id}/lessons/{first.id}")
    await page.get_by_text("✓ Completed").wait_for()
    await page.goto(f"/courses/{course.id}/lessons/{second.id}")
    await page.get_by_role("button", name="Mark complete").click()
    await page.get_by_text("Course complete — well done!").wait_for()
    await page.goto("/cabinet")
    bar = page.get_by_label("Progress in Build a task API")
    assert await bar.get_attribute("value") == "100"
    await page.get_by_text("Quizzes: 1 of 1 passed · score 100%").wait_for()
    await snap(page, "cabinet-quiz")
    await page.get_by_role("button", name="Sign out").click()

    await _sign_in(page, teacher.email)
    await page.goto(f"/teach/courses/{course.id}/students")
    await page.get_by_role("heading", name="Gradebook").wait_for()
    row = page.locator("tbody tr", has_text="Lea Learner")
    assert "100%" in await row.inner_text()
    await snap(page, "gradebook")
    await page.goto(f"/teach/courses/{course.id}/lessons/{first.id}/quiz")
    await page.get_by_role("heading", name="Questions").wait_for()
    await snap(page, "quiz-editor")
    assert page.console_errors == []
