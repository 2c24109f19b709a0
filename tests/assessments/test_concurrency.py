"""Really committed, concurrent requests: one grade per attempt, the attempt limit holds."""

from __future__ import annotations

import asyncio

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from campus.config import Settings
from campus.models.accounts import UserRole
from campus.models.assessments import QuizAttempt
from campus.models.learning import LessonCompletion
from tests.assessments.helpers import API, make_quiz, right_answers
from tests.factories import auth_headers, create_course, create_lesson, create_user, enroll


async def _setup(settings: Settings, engine: AsyncEngine) -> tuple[int, dict, dict, int]:
    async with AsyncSession(engine, expire_on_commit=False) as setup:
        teacher = await create_user(setup, settings, role=UserRole.TEACHER)
        student = await create_user(setup, settings)
        course = await create_course(setup, teacher)
        lesson = await create_lesson(setup, course, position=1)
        await enroll(setup, student, course)
        teacher_h = await auth_headers(setup, settings, teacher)
        student_h = await auth_headers(setup, settings, student)
        await setup.commit()
    return lesson.id, teacher_h, student_h, student.id


async def test_two_submits_of_one_attempt_make_one_grade(
    committed_client: httpx.AsyncClient, settings: Settings, engine: AsyncEngine
) -> None:
    lesson_id, teacher_h, student_h, student_id = await _setup(settings, engine)
    quiz = await make_quiz(committed_client, teacher_h, lesson_id)
    attempt = (
        await committed_client.post(f"{API}/quizzes/{quiz['id']}/attempts", headers=student_h)
    ).json()
    right = right_answers(quiz)
    wrong: list[dict] = []
    responses = await asyncio.gather(
        *[
            committed_client.post(
                f"{API}/attempts/{attempt['id']}/submission",
                json={"answers": right if i % 2 == 0 else wrong},
                headers=student_h,
            )
            for i in range(6)
        ]
    )
    codes = sorted(r.status_code for r in responses)
    assert codes == [200, 409, 409, 409, 409, 409], codes
    winner = next(r.json() for r in responses if r.status_code == 200)
    for loser in (r for r in responses if r.status_code == 409):
        assert loser.json()["type"].endswith("/attempt-submitted")
    async with AsyncSession(engine) as check:
        stored = await check.get(QuizAttempt, attempt["id"])
        assert stored is not None
        assert stored.score == winner["score"]
        assert stored.submitted_at is not None
        completions = await check.scalar(
            select(func.count(LessonCompletion.id)).where(
                LessonCompletion.user_id == student_id, LessonCompletion.lesson_id == lesson_id
            )
        )
    assert completions == (1 if winner["passed"] else 0)


async def test_concurrent_starts_respect_the_attempt_limit(
    committed_client: httpx.AsyncClient, settings: Settings, engine: AsyncEngine
) -> None:
    lesson_id, teacher_h, student_h, student_id = await _setup(settings, engine)
    quiz = await make_quiz(committed_client, teacher_h, lesson_id, attempt_limit=1)
    responses = await asyncio.gather(
        *[
            committed_client.post(f"{API}/quizzes/{quiz['id']}/attempts", headers=student_h)
            for _ in range(6)
        ]
    )
    codes = [r.status_code for r in responses]
    assert codes.count(201) == 1, codes
    assert set(codes) <= {200, 201, 409}, codes
    async with AsyncSession(engine) as check:
        count = await check.scalar(
            select(func.count(QuizAttempt.id)).where(
                QuizAttempt.quiz_id == quiz["id"], QuizAttempt.user_id == student_id
            )
        )
    assert count == 1
