"""Quizzes: the teacher's editing, the learner's attempts, grading on the server.

Who may: a quiz's questions *with their answers* are shown to the course's teacher and
admins only. Learners (actively enrolled) see questions without any answer key, start
attempts within the quiz's limits, submit once, and then see their grade; the correct
answers only if the quiz reveals them. Passing completes the lesson through the learning
service (a lesson with a quiz cannot be completed otherwise).
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from campus.assessments import repository
from campus.assessments.grading import Answer, Key, grade
from campus.assessments.schemas import (
    AnswerIn,
    QuestionCreate,
    QuestionUpdate,
    QuizCreate,
    QuizUpdate,
)
from campus.courses import service as course_service
from campus.errors import Conflict, Forbidden, NotFound, ValidationFailed
from campus.kit.clock import utcnow
from campus.kit.i18n import N_
from campus.kit.pagination.envelope import PageResult
from campus.kit.pagination.params import PageParams
from campus.learning import service as learning_service
from campus.models.accounts import User
from campus.models.assessments import QuestionKind, Quiz, QuizAttempt, QuizOption, QuizQuestion

# A submission may arrive this late after the deadline (the network, a slow click).
GRACE = timedelta(seconds=5)
CHOICE_KINDS = (QuestionKind.SINGLE_CHOICE, QuestionKind.MULTIPLE_CHOICE)


# --- views ----------------------------------------------------------------------------


def _option_key(o: QuizOption) -> dict[str, Any]:
    return {"id": o.id, "position": o.position, "text": o.text, "is_correct": o.is_correct}


def _question_full(q: QuizQuestion, options: list[QuizOption]) -> dict[str, Any]:
    return {
        "id": q.id,
        "position": q.position,
        "kind": q.kind,
        "prompt": q.prompt,
        "points": q.points,
        "explanation": q.explanation,
        "options": [_option_key(o) for o in options],
        "accepted_answers": q.accepted_answers,
        "case_sensitive": q.case_sensitive,
        "number_value": q.number_value,
        "number_tolerance": q.number_tolerance,
    }


def _question_public(q: QuizQuestion, options: list[QuizOption]) -> dict[str, Any]:
    """No answer key: not ``is_correct``, accepted answers, the number nor the explanation."""
    return {
        "id": q.id,
        "position": q.position,
        "kind": q.kind,
        "prompt": q.prompt,
        "points": q.points,
        "options": [{"id": o.id, "position": o.position, "text": o.text} for o in options],
    }


def _quiz_fields(
    quiz: Quiz, questions: list[tuple[QuizQuestion, list[QuizOption]]]
) -> dict[str, Any]:
    return {
        "id": quiz.id,
        "lesson_id": quiz.lesson_id,
        "course_id": quiz.course_id,
        "title": quiz.title,
        "pass_percent": quiz.pass_percent,
        "attempt_limit": quiz.attempt_limit,
        "time_limit_seconds": quiz.time_limit_seconds,
        "reveal_answers": quiz.reveal_answers,
        "max_score": sum(q.points for q, _ in questions),
    }


async def _full_view(session: AsyncSession, quiz: Quiz) -> dict[str, Any]:
    questions = await repository.questions_with_options(session, quiz.id)
    return {
        **_quiz_fields(quiz, questions),
        "created_at": quiz.created_at,
        "updated_at": quiz.updated_at,
        "questions": [_question_full(q, o) for q, o in questions],
    }


def attempt_status(attempt: QuizAttempt, now: datetime) -> str:
    if attempt.submitted_at is not None:
        return "submitted"
    if attempt.deadline_at is not None and now > attempt.deadline_at + GRACE:
        return "expired"
    return "open"


# --- access ---------------------------------------------------------------------------


async def _manage_course(session: AsyncSession, actor: User, course_id: int) -> None:
    course = await course_service.get_course(session, actor, course_id=course_id)
    if not course_service.can_manage(actor, course):
        raise Forbidden(
            N_("Only the course's teacher or an admin can see or change its quizzes."),
            code="quiz-manage-forbidden",
        )


async def _managed_quiz(session: AsyncSession, actor: User, quiz_id: int) -> Quiz:
    quiz = await repository.get_quiz(session, quiz_id)
    if quiz is None:
        raise NotFound(N_("Quiz not found."))
    await _manage_course(session, actor, quiz.course_id)
    return quiz


async def _may_manage(session: AsyncSession, actor: User, course_id: int) -> bool:
    course = await course_service.get_course(session, actor, course_id=course_id)
    return course_service.can_manage(actor, course)


async def _require_learner(session: AsyncSession, actor: User, quiz: Quiz) -> None:
    """An actively enrolled learner of a published course (who can read the lesson)."""
    await course_service.get_readable_lesson(
        session, actor, lesson_id=quiz.lesson_id, course_id=quiz.course_id
    )
    await learning_service.require_enrollment(session, actor, course_id=quiz.course_id)


# --- teacher: quizzes -----------------------------------------------------------------


async def create_quiz(
    session: AsyncSession, actor: User, *, lesson_id: int, data: QuizCreate
) -> dict[str, Any]:
    lesson = await course_service.get_readable_lesson(session, actor, lesson_id=lesson_id)
    await _manage_course(session, actor, lesson.course_id)
    quiz = Quiz(lesson_id=lesson.id, course_id=lesson.course_id, **data.model_dump())
    if not await repository.add_quiz(session, quiz):
        raise Conflict(N_("This lesson has a quiz already."), code="quiz-exists")
    return await _full_view(session, quiz)


async def get_quiz(session: AsyncSession, actor: User, *, quiz_id: int) -> dict[str, Any]:
    return await _full_view(session, await _managed_quiz(session, actor, quiz_id))


async def update_quiz(
    session: AsyncSession, actor: User, *, quiz_id: int, data: QuizUpdate
) -> dict[str, Any]:
    quiz = await _managed_quiz(session, actor, quiz_id)
    for name, value in data.model_dump(exclude_unset=True).items():
        setattr(quiz, name, value)
    await session.flush()
    return await _full_view(session, quiz)


async def delete_quiz(session: AsyncSession, actor: User, *, quiz_id: int) -> None:
    quiz = await _managed_quiz(session, actor, quiz_id)
    await session.delete(quiz)
    await session.flush()


# --- teacher: questions ---------------------------------------------------------------


def _question_values(data: QuestionCreate) -> dict[str, Any]:
    text = data.kind == QuestionKind.SHORT_TEXT
    number = data.kind == QuestionKind.NUMBER
    return {
        "kind": data.kind,
        "prompt": data.prompt,
        "points": data.points,
        "explanation": data.explanation,
        "accepted_answers": list(data.accepted_answers or []) if text else None,
        "case_sensitive": bool(data.case_sensitive) if text else False,
        "number_value": data.number_value if number else None,
        "number_tolerance": (data.number_tolerance or 0.0) if number else None,
    }


def _options_of(data: QuestionCreate) -> list[tuple[str, bool]]:
    if data.kind not in CHOICE_KINDS:
        return []
    return [(o.text, o.is_correct) for o in data.options or []]


async def add_question(
    session: AsyncSession, actor: User, *, quiz_id: int, data: QuestionCreate
) -> dict[str, Any]:
    quiz = await _managed_quiz(session, actor, quiz_id)
    count = await repository.question_count(session, quiz.id)
    position = count + 1 if data.position is None else data.position
    if position > count + 1:
        raise ValidationFailed.field(
            ["body", "position"], f"position must be between 1 and {count + 1}"
        )
    await repository.shift_questions(session, quiz.id, from_position=position, by=1)
    question = QuizQuestion(quiz_id=quiz.id, position=position, **_question_values(data))
    session.add(question)
    await session.flush()
    await repository.replace_options(session, question.id, _options_of(data))
    return await _full_view(session, quiz)


async def update_question(
    session: AsyncSession, actor: User, *, quiz_id: int, question_id: int, data: QuestionUpdate
) -> dict[str, Any]:
    quiz = await _managed_quiz(session, actor, quiz_id)
    question = await repository.get_question(session, quiz.id, question_id)
    if question is None:
        raise NotFound(N_("Question not found."))
    current = dict(await repository.questions_with_options(session, quiz.id))
    merged: dict[str, Any] = {
        "kind": question.kind,
        "prompt": question.prompt,
        "points": question.points,
        "explanation": question.explanation,
    }
    if question.kind in CHOICE_KINDS:
        merged["options"] = [
            {"text": o.text, "is_correct": o.is_correct} for o in current[question]
        ]
    elif question.kind == QuestionKind.SHORT_TEXT:
        merged["accepted_answers"] = question.accepted_answers
        merged["case_sensitive"] = question.case_sensitive
    else:
        merged["number_value"] = question.number_value
        merged["number_tolerance"] = question.number_tolerance
    changes = data.model_dump(exclude_unset=True)
    if "kind" in changes and changes["kind"] != question.kind:
        # A new kind takes only the fields given for it.
        for name in (
            "options",
            "accepted_answers",
            "case_sensitive",
            "number_value",
            "number_tolerance",
        ):
            merged.pop(name, None)
    merged.update(changes)
    try:
        checked = QuestionCreate.model_validate(merged)
    except ValidationError as exc:
        raise ValidationFailed(
            "The question as changed is not valid.",
            errors=[
                {"loc": ["body", *e["loc"]], "msg": e["msg"], "type": e["type"]}
                for e in exc.errors(include_url=False, include_context=False)
            ],
        ) from None
    for name, value in _question_values(checked).items():
        setattr(question, name, value)
    await session.flush()
    if "options" in changes or "kind" in changes:
        await repository.replace_options(session, question.id, _options_of(checked))
    return await _full_view(session, quiz)


async def delete_question(
    session: AsyncSession, actor: User, *, quiz_id: int, question_id: int
) -> None:
    quiz = await _managed_quiz(session, actor, quiz_id)
    question = await repository.get_question(session, quiz.id, question_id)
    if question is None:
        raise NotFound(N_("Question not found."))
    position = question.position
    await repository.delete_question(session, question)
    await repository.shift_questions(session, quiz.id, from_position=position + 1, by=-1)


async def reorder_questions(
    session: AsyncSession, actor: User, *, quiz_id: int, question_ids: list[int]
) -> dict[str, Any]:
    quiz = await _managed_quiz(session, actor, quiz_id)
    existing = [q.id for q, _ in await repository.questions_with_options(session, quiz.id)]
    if len(question_ids) != len(existing) or set(question_ids) != set(existing):
        raise ValidationFailed.field(
            ["body", "question_ids"],
            "question_ids must list every question of the quiz exactly once",
        )
    await repository.set_positions(session, question_ids)
    return await _full_view(session, quiz)


# --- learner --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Standing:
    used: int
    best_percent: int | None
    passed: bool
    open_attempt: QuizAttempt | None


def _standing(attempts: list[QuizAttempt], now: datetime) -> _Standing:
    submitted = [a for a in attempts if a.submitted_at is not None]
    open_ = [a for a in attempts if attempt_status(a, now) == "open"]
    return _Standing(
        used=len(attempts),
        best_percent=max((a.percent or 0 for a in submitted), default=None),
        passed=any(a.passed for a in submitted),
        open_attempt=open_[-1] if open_ else None,
    )


async def get_lesson_quiz(session: AsyncSession, actor: User, *, lesson_id: int) -> dict[str, Any]:
    """The lesson's quiz as a learner sees it (no answer key) and the learner's standing."""
    lesson = await course_service.get_readable_lesson(session, actor, lesson_id=lesson_id)
    quiz = await repository.get_quiz_of_lesson(session, lesson.id)
    if quiz is None:
        raise NotFound(N_("This lesson has no quiz."))
    return await _learner_view(session, actor, quiz)


async def find_lesson_quiz_id(session: AsyncSession, *, lesson_id: int) -> int | None:
    """The id of the lesson's quiz, if it has one (for the lesson page's link)."""
    quiz = await repository.get_quiz_of_lesson(session, lesson_id)
    return None if quiz is None else quiz.id


async def _learner_view(session: AsyncSession, actor: User, quiz: Quiz) -> dict[str, Any]:
    questions = await repository.questions_with_options(session, quiz.id)
    standing = _standing(
        await repository.attempts_of(session, quiz_id=quiz.id, user_id=actor.id), utcnow()
    )
    left = None if quiz.attempt_limit is None else max(0, quiz.attempt_limit - standing.used)
    return {
        **_quiz_fields(quiz, questions),
        "questions": [_question_public(q, o) for q, o in questions],
        "attempts_used": standing.used,
        "attempts_left": left,
        "best_percent": standing.best_percent,
        "passed": standing.passed,
        "open_attempt_id": standing.open_attempt.id if standing.open_attempt else None,
    }


@dataclass(frozen=True, slots=True)
class StartResult:
    attempt: dict[str, Any]
    created: bool


async def start_attempt(session: AsyncSession, actor: User, *, quiz_id: int) -> StartResult:
    """Start an attempt (201), or return the one still open (200). Beyond the limit: 409."""
    quiz = await repository.get_quiz(session, quiz_id)
    if quiz is None:
        raise NotFound(N_("Quiz not found."))
    await _require_learner(session, actor, quiz)
    if await repository.question_count(session, quiz.id) == 0:
        raise Conflict(N_("This quiz has no questions yet."), code="quiz-empty")
    now = utcnow()
    attempts = await repository.attempts_of(session, quiz_id=quiz.id, user_id=actor.id)
    standing = _standing(attempts, now)
    if standing.open_attempt is not None:
        return StartResult(_attempt_view(standing.open_attempt, quiz, None, now), created=False)
    if quiz.attempt_limit is not None and standing.used >= quiz.attempt_limit:
        raise Conflict(
            N_("You have used all %(limit)s attempts at this quiz."),
            code="attempt-limit-reached",
            variables={"limit": quiz.attempt_limit},
        )
    deadline = None
    if quiz.time_limit_seconds is not None:
        deadline = now + timedelta(seconds=quiz.time_limit_seconds)
    attempt = await repository.insert_attempt(
        session,
        quiz_id=quiz.id,
        user_id=actor.id,
        number=standing.used + 1,
        started_at=now,
        deadline_at=deadline,
    )
    if attempt is None:
        raise Conflict(
            N_("Another attempt at this quiz was started at the same moment; reload it."),
            code="attempt-conflict",
        )
    return StartResult(_attempt_view(attempt, quiz, None, now), created=True)


async def list_my_attempts(
    session: AsyncSession, actor: User, *, quiz_id: int
) -> list[dict[str, Any]]:
    quiz = await repository.get_quiz(session, quiz_id)
    if quiz is None:
        raise NotFound(N_("Quiz not found."))
    await course_service.get_readable_lesson(
        session, actor, lesson_id=quiz.lesson_id, course_id=quiz.course_id
    )
    now = utcnow()
    attempts = await repository.attempts_of(session, quiz_id=quiz.id, user_id=actor.id)
    questions = await repository.questions_with_options(session, quiz.id) if attempts else []
    return [_attempt_view(a, quiz, questions, now) for a in attempts]


async def _attempt_in_reach(
    session: AsyncSession, actor: User, attempt_id: int
) -> tuple[QuizAttempt, Quiz, bool]:
    attempt = await repository.get_attempt(session, attempt_id)
    if attempt is None:
        raise NotFound(N_("Attempt not found."))
    quiz = await repository.get_quiz(session, attempt.quiz_id)
    assert quiz is not None  # attempts go with their quiz (ON DELETE CASCADE)
    if attempt.user_id == actor.id:
        return attempt, quiz, False
    if await _may_manage(session, actor, quiz.course_id):
        return attempt, quiz, True
    raise Forbidden(N_("This is another learner's attempt."), code="not-your-attempt")


async def get_quiz_of_lesson_for_teacher(
    session: AsyncSession, actor: User, *, lesson_id: int
) -> dict[str, Any] | None:
    """The lesson's quiz with its answer key (the course's teacher and admins), or None."""
    lesson = await course_service.get_readable_lesson(session, actor, lesson_id=lesson_id)
    await _manage_course(session, actor, lesson.course_id)
    quiz = await repository.get_quiz_of_lesson(session, lesson.id)
    return None if quiz is None else await _full_view(session, quiz)


async def get_attempt_with_quiz(
    session: AsyncSession, actor: User, *, attempt_id: int
) -> dict[str, Any]:
    """An attempt (as :func:`get_attempt`) and its quiz without the answer key, for the
    result page."""
    attempt, quiz, managing = await _attempt_in_reach(session, actor, attempt_id)
    questions = await repository.questions_with_options(session, quiz.id)
    return {
        "attempt": _attempt_view(attempt, quiz, questions, utcnow(), reveal=managing or None),
        "quiz": {
            **_quiz_fields(quiz, questions),
            "questions": [_question_public(q, o) for q, o in questions],
        },
    }


async def get_attempt(session: AsyncSession, actor: User, *, attempt_id: int) -> dict[str, Any]:
    """The learner's own attempt, or any attempt for the course's teacher and admins."""
    attempt, quiz, managing = await _attempt_in_reach(session, actor, attempt_id)
    questions = await repository.questions_with_options(session, quiz.id)
    return _attempt_view(attempt, quiz, questions, utcnow(), reveal=managing or None)


def _answers_of(
    body: list[AnswerIn], questions: list[tuple[QuizQuestion, list[QuizOption]]]
) -> list[Answer]:
    """Check every answer against the quiz: unknown question or option ids, two answers to
    one question, or fields that do not fit the kind are one 422 naming each."""
    by_id = {q.id: (q, {o.id for o in opts}) for q, opts in questions}
    errors: list[dict[str, Any]] = []
    seen: set[int] = set()
    answers: list[Answer] = []

    def bad(i: int, field: str, msg: str) -> None:
        errors.append({"loc": ["body", "answers", i, field], "msg": msg, "type": "value_error"})

    for i, given in enumerate(body):
        found = by_id.get(given.question_id)
        if found is None:
            bad(i, "question_id", f"question {given.question_id} is not in this quiz")
            continue
        if given.question_id in seen:
            bad(i, "question_id", f"question {given.question_id} is answered twice")
            continue
        seen.add(given.question_id)
        question, option_ids = found
        if question.kind in CHOICE_KINDS:
            if given.text is not None or given.number is not None:
                bad(i, "option_ids", "a choice question takes option_ids only")
                continue
            picked = list(dict.fromkeys(given.option_ids or []))
            unknown = [o for o in picked if o not in option_ids]
            if unknown:
                bad(i, "option_ids", f"options {unknown} are not options of this question")
                continue
            if question.kind == QuestionKind.SINGLE_CHOICE and len(picked) > 1:
                bad(i, "option_ids", "a single_choice question takes one option")
                continue
            answers.append(Answer(question.id, option_ids=tuple(picked)))
        elif question.kind == QuestionKind.SHORT_TEXT:
            if given.option_ids is not None or given.number is not None:
                bad(i, "text", "a short_text question takes text only")
                continue
            answers.append(Answer(question.id, text=given.text))
        else:
            if given.option_ids is not None or given.text is not None:
                bad(i, "number", "a number question takes number only")
                continue
            answers.append(Answer(question.id, number=given.number))
    if errors:
        raise ValidationFailed("Some answers do not fit this quiz.", errors=errors)
    return answers


def _key(question: QuizQuestion, options: list[QuizOption]) -> Key:
    return Key(
        kind=question.kind,
        points=question.points,
        correct_option_ids=frozenset(o.id for o in options if o.is_correct),
        accepted_answers=tuple(question.accepted_answers or ()),
        case_sensitive=question.case_sensitive,
        number_value=question.number_value,
        number_tolerance=question.number_tolerance or 0.0,
    )


async def submit_attempt(
    session: AsyncSession, actor: User, *, attempt_id: int, answers: list[AnswerIn]
) -> dict[str, Any]:
    """Grade and close the attempt, once. Another's attempt: 403; submitted or expired: 409;
    answers that do not fit the quiz: 422; nothing is stored in any of these cases."""
    attempt = await repository.get_attempt(session, attempt_id)
    if attempt is None:
        raise NotFound(N_("Attempt not found."))
    if attempt.user_id != actor.id:
        raise Forbidden(N_("This is another learner's attempt."), code="not-your-attempt")
    now = utcnow()
    status = attempt_status(attempt, now)
    if status == "submitted":
        raise Conflict(N_("This attempt was submitted already."), code="attempt-submitted")
    if status == "expired":
        raise Conflict(N_("The time for this attempt ran out."), code="attempt-expired")
    quiz = await repository.get_quiz(session, attempt.quiz_id)
    assert quiz is not None
    await _require_learner(session, actor, quiz)
    questions = await repository.questions_with_options(session, quiz.id)
    given = _answers_of(answers, questions)
    result = grade({q.id: _key(q, o) for q, o in questions}, given, pass_percent=quiz.pass_percent)
    stored = [
        {
            "question_id": a.question_id,
            "option_ids": list(a.option_ids) or None,
            "text": a.text,
            "number": a.number,
        }
        for a in given
    ]
    if not await repository.submit_attempt(
        session,
        attempt.id,
        submitted_at=now,
        score=result.score,
        max_score=result.max_score,
        percent=result.percent,
        passed=result.passed,
        answers=stored,
        results=result.results,
    ):
        raise Conflict(N_("This attempt was submitted already."), code="attempt-submitted")
    if result.passed:
        await learning_service.complete_lesson(
            session,
            actor,
            course_id=quiz.course_id,
            lesson_id=quiz.lesson_id,
            quiz_passed=True,
        )
    attempt = await repository.get_attempt(session, attempt.id)
    assert attempt is not None
    return _attempt_view(attempt, quiz, questions, now)


def _correct_answer(question: QuizQuestion, options: list[QuizOption]) -> dict[str, Any]:
    if question.kind in CHOICE_KINDS:
        return {"option_ids": [o.id for o in options if o.is_correct]}
    if question.kind == QuestionKind.SHORT_TEXT:
        return {"accepted_answers": question.accepted_answers}
    return {"number_value": question.number_value, "number_tolerance": question.number_tolerance}


def _attempt_view(
    attempt: QuizAttempt,
    quiz: Quiz,
    questions: list[tuple[QuizQuestion, list[QuizOption]]] | None,
    now: datetime,
    *,
    reveal: bool | None = None,
) -> dict[str, Any]:
    """An attempt; its feedback only once submitted, the answer key only if revealed."""
    feedback = None
    if attempt.submitted_at is not None and questions is not None:
        show = quiz.reveal_answers if reveal is None else reveal
        by_id = {q.id: (q, o) for q, o in questions}
        given = {a["question_id"]: a for a in attempt.answers or []}
        feedback = []
        for row in attempt.results or []:
            found = by_id.get(int(row["question_id"]))
            answer = given.get(row["question_id"])
            feedback.append(
                {
                    "question_id": row["question_id"],
                    "points": row["points"],
                    "awarded": row["awarded"],
                    "correct": row["correct"],
                    "answer": None
                    if answer is None
                    else {k: answer.get(k) for k in ("option_ids", "text", "number")},
                    "correct_answer": _correct_answer(*found) if show and found else None,
                    "explanation": found[0].explanation if show and found else None,
                }
            )
    return {
        "id": attempt.id,
        "quiz_id": attempt.quiz_id,
        "user_id": attempt.user_id,
        "number": attempt.number,
        "status": attempt_status(attempt, now),
        "started_at": attempt.started_at,
        "deadline_at": attempt.deadline_at,
        "submitted_at": attempt.submitted_at,
        "score": attempt.score,
        "max_score": attempt.max_score,
        "percent": attempt.percent,
        "passed": attempt.passed,
        "feedback": feedback,
    }


# --- the gradebook --------------------------------------------------------------------------

GRADEBOOK_SORTS = ("enrolled_at", "name", "progress", "quiz_score", "last_activity")
CSV_BATCH = 500
_CSV_RISKY = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True, slots=True)
class GradebookQuiz:
    id: int
    lesson_position: int
    title: str


@dataclass(frozen=True, slots=True)
class GradebookRow:
    user_id: int
    full_name: str
    email: str
    enrolled_at: datetime
    completed_lessons: int
    total_lessons: int
    percent: int
    quiz_score: int | None
    quizzes_passed: int
    last_activity: datetime
    quiz_scores: dict[int, int | None]


@dataclass(frozen=True, slots=True)
class FunnelStep:
    lesson_id: int
    position: int
    title: str
    completed: int
    percent: int


def _dialect(session: AsyncSession) -> str:
    return session.get_bind().dialect.name


async def _gradebook_course(session: AsyncSession, actor: User, course_id: int) -> Any:
    course = await course_service.get_course(session, actor, course_id=course_id)
    if not course_service.can_manage(actor, course):
        raise Forbidden(
            N_("Only the course's teacher or an admin can see its gradebook."),
            code="gradebook-forbidden",
        )
    return course


def _rows(
    raw: list[Any], quizzes: list[GradebookQuiz], best: dict[tuple[int, int], int], total: int
) -> list[GradebookRow]:
    rows = []
    for user_id, name, email, enrolled_at, done, score, passed, last in raw:
        summary = learning_service.quiz_summary(score, passed, len(quizzes))
        rows.append(
            GradebookRow(
                user_id=user_id,
                full_name=name,
                email=email,
                enrolled_at=enrolled_at,
                completed_lessons=int(done),
                total_lessons=total,
                percent=int(done) * 100 // total if total else 0,
                quiz_score=summary[0],
                quizzes_passed=summary[1],
                last_activity=last,
                quiz_scores={q.id: best.get((user_id, q.id)) for q in quizzes},
            )
        )
    return rows


@dataclass(frozen=True, slots=True)
class Gradebook:
    course: Any
    quizzes: list[GradebookQuiz]
    page: PageResult[GradebookRow]
    funnel: list[FunnelStep]


async def get_gradebook(
    session: AsyncSession, actor: User, *, course_id: int, params: PageParams
) -> Gradebook:
    """Every active student's progress, quiz scores and last activity (one page, sorted in
    SQL), the course's quizzes, and the per-lesson completion funnel."""
    course = await _gradebook_course(session, actor, course_id)
    dialect = _dialect(session)
    quizzes = [GradebookQuiz(*q) for q in await repository.course_quizzes(session, course.id)]
    page: PageResult[Any] = await repository.gradebook_page(
        session, course_id=course.id, dialect=dialect, params=params
    )
    best = await repository.best_percents(
        session, course_id=course.id, user_ids=[row[0] for row in page.items]
    )
    page.items = _rows(page.items, quizzes, best, course.lessons_count)
    students = course.students_count
    funnel = [
        FunnelStep(i, p, t, n, n * 100 // students if students else 0)
        for i, p, t, n in await repository.lesson_funnel(session, course.id)
    ]
    return Gradebook(course=course, quizzes=quizzes, page=page, funnel=funnel)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    text = str(value)
    # A spreadsheet runs a cell that starts like a formula: keep names such as "=1+1" text.
    return "'" + text if text.startswith(_CSV_RISKY) else text


async def gradebook_csv(
    session: AsyncSession, actor: User, *, course_id: int, reader: AsyncSession
) -> AsyncIterator[str]:
    """Check access now (with ``session``), then return the CSV as an async iterator of
    lines that ``reader`` reads while the response streams, in keyset batches of CSV_BATCH
    students (by user id): never the whole class in memory. ``reader`` must outlive the
    request's handler (the caller's stream session) and is first used once streaming starts.
    """
    course = await _gradebook_course(session, actor, course_id)
    quizzes = [GradebookQuiz(*q) for q in await repository.course_quizzes(session, course.id)]
    dialect = _dialect(session)

    async def lines() -> AsyncIterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")

        def line(cells: list[Any]) -> str:
            buffer.seek(0)
            buffer.truncate()
            writer.writerow([_cell(c) for c in cells])
            return buffer.getvalue()

        yield line(
            [
                "user_id",
                "full_name",
                "email",
                "enrolled_at",
                "completed_lessons",
                "total_lessons",
                "percent",
                "quiz_score",
                "quizzes_passed",
                "last_activity",
                *(f"quiz {q.lesson_position}: {q.title}" for q in quizzes),
            ]
        )
        after = 0
        while True:
            raw = await repository.gradebook_batch(
                reader, course_id=course.id, dialect=dialect, after_user_id=after, size=CSV_BATCH
            )
            if not raw:
                return
            best = await repository.best_percents(
                reader, course_id=course.id, user_ids=[r[0] for r in raw]
            )
            chunk = []
            for row in _rows(raw, quizzes, best, course.lessons_count):
                chunk.append(
                    line(
                        [
                            row.user_id,
                            row.full_name,
                            row.email,
                            row.enrolled_at,
                            row.completed_lessons,
                            row.total_lessons,
                            row.percent,
                            row.quiz_score,
                            row.quizzes_passed,
                            row.last_activity,
                            *(row.quiz_scores[q.id] for q in quizzes),
                        ]
                    )
                )
            yield "".join(chunk)
            after = raw[-1][0]

    return lines()
