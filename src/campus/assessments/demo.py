"""Demo data of the assessments domain: a quiz for every lesson of the demo course.

The questions are in ``demo_quizzes.json`` (one entry per lesson, in lesson order). The demo
student completed the first lessons in the learning loader; they get a passed attempt at
those lessons' quizzes, so the demo stays true to the rule that a quiz lesson is completed
by passing its quiz.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from campus.assessments.grading import Answer, Key, grade
from campus.assessments.schemas import QuestionCreate
from campus.demo import DemoContext, demo_loader
from campus.kit.clock import utcnow
from campus.models.accounts import User
from campus.models.assessments import QuestionKind, Quiz, QuizAttempt, QuizOption, QuizQuestion
from campus.models.courses import Course, Lesson
from campus.models.learning import LessonCompletion

QUIZ_FILE = Path(__file__).resolve().parent / "demo_quizzes.json"


def load_quiz_documents() -> list[dict[str, Any]]:
    """The demo quizzes, each question checked like one sent to the API."""
    quizzes: list[dict[str, Any]] = json.loads(QUIZ_FILE.read_text(encoding="utf-8"))
    for quiz in quizzes:
        quiz["questions"] = [QuestionCreate.model_validate(q) for q in quiz["questions"]]
    return quizzes


@demo_loader("assessments", order=35)
async def load(session: AsyncSession, ctx: DemoContext) -> None:
    course: Course = ctx.objects["demo_course"]
    student: User = ctx.objects["student"]
    lessons = list(
        (
            await session.execute(
                select(Lesson).where(Lesson.course_id == course.id).order_by(Lesson.position)
            )
        ).scalars()
    )
    have = set(
        (await session.execute(select(Quiz.lesson_id).where(Quiz.course_id == course.id)))
        .scalars()
        .all()
    )
    done = set(
        (
            await session.execute(
                select(LessonCompletion.lesson_id).where(
                    LessonCompletion.user_id == student.id,
                    LessonCompletion.course_id == course.id,
                )
            )
        )
        .scalars()
        .all()
    )
    now = utcnow()
    for lesson, doc in zip(lessons, load_quiz_documents(), strict=False):
        if lesson.id in have:
            continue
        quiz = Quiz(
            lesson_id=lesson.id,
            course_id=course.id,
            title=f"Check: {doc['title']}",
            pass_percent=60,
            attempt_limit=None,
            time_limit_seconds=300 if lesson.position % 4 == 0 else None,
            reveal_answers=True,
        )
        session.add(quiz)
        await session.flush()
        keys: dict[int, Key] = {}
        answers: list[Answer] = []
        for position, data in enumerate(doc["questions"], start=1):
            question = QuizQuestion(
                quiz_id=quiz.id,
                position=position,
                kind=data.kind,
                prompt=data.prompt,
                points=data.points,
                explanation=data.explanation,
                accepted_answers=data.accepted_answers,
                case_sensitive=bool(data.case_sensitive),
                number_value=data.number_value,
                number_tolerance=(data.number_tolerance or 0.0)
                if data.kind == QuestionKind.NUMBER
                else None,
            )
            session.add(question)
            await session.flush()
            options = [
                QuizOption(
                    question_id=question.id, position=i, text=o.text, is_correct=o.is_correct
                )
                for i, o in enumerate(data.options or [], start=1)
            ]
            session.add_all(options)
            await session.flush()
            correct = frozenset(o.id for o in options if o.is_correct)
            keys[question.id] = Key(
                kind=data.kind,
                points=data.points,
                correct_option_ids=correct,
                accepted_answers=tuple(data.accepted_answers or ()),
                case_sensitive=bool(data.case_sensitive),
                number_value=data.number_value,
                number_tolerance=data.number_tolerance or 0.0,
            )
            answers.append(
                Answer(
                    question.id,
                    option_ids=tuple(sorted(correct)),
                    text=(data.accepted_answers or [None])[0],
                    number=data.number_value,
                )
            )
        if lesson.id in done:
            result = grade(keys, answers, pass_percent=quiz.pass_percent)
            session.add(
                QuizAttempt(
                    quiz_id=quiz.id,
                    user_id=student.id,
                    number=1,
                    started_at=now,
                    submitted_at=now,
                    score=result.score,
                    max_score=result.max_score,
                    percent=result.percent,
                    passed=result.passed,
                    answers=[
                        {
                            "question_id": a.question_id,
                            "option_ids": list(a.option_ids) or None,
                            "text": a.text,
                            "number": a.number,
                        }
                        for a in answers
                    ],
                    results=result.results,
                )
            )
    await session.flush()
