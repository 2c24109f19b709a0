"""SQL for quizzes, questions, options and attempts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from campus.kit.pagination.envelope import PageResult
from campus.kit.pagination.params import PageParams
from campus.kit.pagination.statements import AnySelect, ListQuery, fetch_page
from campus.learning.repository import quiz_columns
from campus.models.accounts import User
from campus.models.assessments import Quiz, QuizAttempt, QuizOption, QuizQuestion
from campus.models.courses import Course, Lesson
from campus.models.learning import Enrollment, EnrollmentStatus, LessonCompletion


async def get_quiz(session: AsyncSession, quiz_id: int) -> Quiz | None:
    return await session.get(Quiz, quiz_id, populate_existing=True)


async def get_quiz_of_lesson(session: AsyncSession, lesson_id: int) -> Quiz | None:
    stmt = select(Quiz).where(Quiz.lesson_id == lesson_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def add_quiz(session: AsyncSession, quiz: Quiz) -> bool:
    """Insert ``quiz``; False when the lesson has one already (unique lesson_id)."""
    try:
        async with session.begin_nested():
            session.add(quiz)
            await session.flush()
    except IntegrityError:
        return False
    return True


async def questions_with_options(
    session: AsyncSession, quiz_id: int
) -> list[tuple[QuizQuestion, list[QuizOption]]]:
    """The quiz's questions in order, each with its options in order: two queries."""
    questions = (
        (
            await session.execute(
                select(QuizQuestion)
                .where(QuizQuestion.quiz_id == quiz_id)
                .order_by(QuizQuestion.position, QuizQuestion.id)
            )
        )
        .scalars()
        .all()
    )
    options: dict[int, list[QuizOption]] = {q.id: [] for q in questions}
    if questions:
        rows = await session.execute(
            select(QuizOption)
            .where(QuizOption.question_id.in_(list(options)))
            .order_by(QuizOption.question_id, QuizOption.position, QuizOption.id)
        )
        for option in rows.scalars():
            options[option.question_id].append(option)
    return [(q, options[q.id]) for q in questions]


async def get_question(
    session: AsyncSession, quiz_id: int, question_id: int
) -> QuizQuestion | None:
    stmt = select(QuizQuestion).where(
        QuizQuestion.id == question_id, QuizQuestion.quiz_id == quiz_id
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def question_count(session: AsyncSession, quiz_id: int) -> int:
    stmt = select(func.count(QuizQuestion.id)).where(QuizQuestion.quiz_id == quiz_id)
    return int((await session.execute(stmt)).scalar_one())


async def shift_questions(
    session: AsyncSession, quiz_id: int, *, from_position: int, by: int
) -> None:
    """Move every question at ``from_position`` or later by ``by`` places."""
    await session.execute(
        update(QuizQuestion)
        .where(QuizQuestion.quiz_id == quiz_id, QuizQuestion.position >= from_position)
        .values(position=QuizQuestion.position + by)
    )


async def set_positions(session: AsyncSession, ids_in_order: Sequence[int]) -> None:
    for position, question_id in enumerate(ids_in_order, start=1):
        await session.execute(
            update(QuizQuestion).where(QuizQuestion.id == question_id).values(position=position)
        )


async def replace_options(
    session: AsyncSession, question_id: int, options: Sequence[tuple[str, bool]]
) -> None:
    await session.execute(delete(QuizOption).where(QuizOption.question_id == question_id))
    session.add_all(
        QuizOption(question_id=question_id, position=i, text=text, is_correct=correct)
        for i, (text, correct) in enumerate(options, start=1)
    )
    await session.flush()


async def delete_question(session: AsyncSession, question: QuizQuestion) -> None:
    await session.delete(question)
    await session.flush()


# --- attempts -------------------------------------------------------------------------


async def attempts_of(session: AsyncSession, *, quiz_id: int, user_id: int) -> list[QuizAttempt]:
    stmt = (
        select(QuizAttempt)
        .where(QuizAttempt.quiz_id == quiz_id, QuizAttempt.user_id == user_id)
        .order_by(QuizAttempt.number)
        .execution_options(populate_existing=True)
    )
    return list((await session.execute(stmt)).scalars().all())


async def insert_attempt(
    session: AsyncSession,
    *,
    quiz_id: int,
    user_id: int,
    number: int,
    started_at: datetime,
    deadline_at: datetime | None,
) -> QuizAttempt | None:
    """Insert attempt ``number``; None when a concurrent request took that number first."""
    attempt = QuizAttempt(
        quiz_id=quiz_id,
        user_id=user_id,
        number=number,
        started_at=started_at,
        deadline_at=deadline_at,
    )
    try:
        async with session.begin_nested():
            session.add(attempt)
            await session.flush()
    except IntegrityError:
        return None
    return attempt


async def get_attempt(session: AsyncSession, attempt_id: int) -> QuizAttempt | None:
    return await session.get(QuizAttempt, attempt_id, populate_existing=True)


async def submit_attempt(
    session: AsyncSession, attempt_id: int, *, submitted_at: datetime, **grade: Any
) -> bool:
    """Record the grade once: ``UPDATE ... WHERE submitted_at IS NULL``. False when another
    request submitted the attempt first (on PostgreSQL the second UPDATE waits for the
    first's row lock, then finds the condition false)."""
    result = await session.execute(
        update(QuizAttempt)
        .where(QuizAttempt.id == attempt_id, QuizAttempt.submitted_at.is_(None))
        .values(submitted_at=submitted_at, **grade)
        .returning(QuizAttempt.id)
    )
    return result.scalar_one_or_none() is not None


# --- the gradebook (reads the learning tables; writes nothing) -----------------------------


def _gradebook_columns(course_id: Any, dialect: str) -> dict[str, Any]:
    """Each student's figures in one course as correlated scalar subqueries on the
    (user, course) indexes: evaluated for a page's rows, or for every row when sorted by."""
    theirs = (LessonCompletion.user_id == User.id, LessonCompletion.course_id == course_id)
    completed = (
        select(func.count(LessonCompletion.id)).where(*theirs).correlate(User).scalar_subquery()
    )
    last_completed = (
        select(func.max(LessonCompletion.completed_at))
        .where(*theirs)
        .correlate(User)
        .scalar_subquery()
    )
    last_attempt = (
        select(func.max(func.coalesce(QuizAttempt.submitted_at, QuizAttempt.started_at)))
        .join(Quiz, Quiz.id == QuizAttempt.quiz_id)
        .where(QuizAttempt.user_id == User.id, Quiz.course_id == course_id)
        .correlate(User)
        .scalar_subquery()
    )
    score, passed, _total = quiz_columns(User.id, course_id)
    # The sort key of the quiz score: the sum of the best percents orders like their mean
    # (every student of a course has the same quizzes) and is an integer (page cursors).
    best = (
        select(func.max(QuizAttempt.percent))
        .where(
            QuizAttempt.quiz_id == Quiz.id,
            QuizAttempt.user_id == User.id,
            QuizAttempt.submitted_at.is_not(None),
        )
        .correlate_except(QuizAttempt)
        .scalar_subquery()
    )
    score_sum = (
        select(func.coalesce(func.sum(func.coalesce(best, 0)), -1))
        .where(Quiz.course_id == course_id)
        .correlate_except(Quiz)
        .scalar_subquery()
    )
    # The latest of enrolling, completing a lesson and a quiz attempt (SQLite's max() of
    # several arguments is PostgreSQL's greatest()).
    latest = func.greatest if dialect == "postgresql" else func.max
    last_activity = latest(
        Enrollment.enrolled_at,
        func.coalesce(last_completed, Enrollment.enrolled_at),
        func.coalesce(last_attempt, Enrollment.enrolled_at),
    )
    return {
        "completed": completed,
        "quiz_score": score,
        "quiz_score_key": score_sum,
        "quizzes_passed": passed,
        "last_activity": last_activity,
    }


def gradebook_sorts(course_id: int, dialect: str) -> dict[str, Any]:
    columns = _gradebook_columns(course_id, dialect)
    return {
        "enrolled_at": Enrollment.enrolled_at,
        "name": func.lower(User.full_name),
        "progress": columns["completed"],
        "quiz_score": columns["quiz_score_key"],
        "last_activity": columns["last_activity"],
    }


def gradebook_statement(course_id: int, dialect: str) -> AnySelect:
    """The course's active students, one row each: id, name, email, enrolled_at,
    completed lessons, quiz score, quizzes passed, last activity (Core rows)."""
    columns = _gradebook_columns(course_id, dialect)
    return (
        select(
            User.id,
            User.full_name,
            User.email,
            Enrollment.enrolled_at,
            columns["completed"].label("completed"),
            columns["quiz_score"].label("quiz_score"),
            columns["quizzes_passed"].label("quizzes_passed"),
            columns["last_activity"].label("last_activity"),
        )
        .select_from(Enrollment)
        .join(User, User.id == Enrollment.user_id)
        .where(Enrollment.course_id == course_id, Enrollment.status == EnrollmentStatus.ACTIVE)
    )


def gradebook_total(course_id: int) -> AnySelect:
    """The course's maintained count of active enrollments (triggers keep it exact)."""
    return select(Course.students_count).where(Course.id == course_id)


async def course_quizzes(session: AsyncSession, course_id: int) -> list[tuple[int, int, str]]:
    """(quiz id, lesson position, title) of the course's quizzes in lesson order."""
    stmt = (
        select(Quiz.id, Lesson.position, Quiz.title)
        .join(Lesson, Lesson.id == Quiz.lesson_id)
        .where(Quiz.course_id == course_id)
        .order_by(Lesson.position)
    )
    return [(int(i), int(p), str(t)) for i, p, t in (await session.execute(stmt)).all()]


async def best_percents(
    session: AsyncSession, *, course_id: int, user_ids: Sequence[int]
) -> dict[tuple[int, int], int]:
    """{(user, quiz): best submitted percent} for some students: one grouped query."""
    if not user_ids:
        return {}
    stmt = (
        select(QuizAttempt.user_id, QuizAttempt.quiz_id, func.max(QuizAttempt.percent))
        .join(Quiz, Quiz.id == QuizAttempt.quiz_id)
        .where(
            Quiz.course_id == course_id,
            QuizAttempt.user_id.in_(list(user_ids)),
            QuizAttempt.submitted_at.is_not(None),
        )
        .group_by(QuizAttempt.user_id, QuizAttempt.quiz_id)
    )
    rows = (await session.execute(stmt)).all()
    return {(int(u), int(q)): int(p or 0) for u, q, p in rows}


async def gradebook_batch(
    session: AsyncSession, *, course_id: int, dialect: str, after_user_id: int, size: int
) -> list[Any]:
    """Up to ``size`` rows of the gradebook after a user id, in user id order (keyset
    batches for the CSV export: each batch is one short query, nothing held in memory)."""
    stmt = (
        gradebook_statement(course_id, dialect)
        .where(User.id > after_user_id)
        .order_by(User.id)
        .limit(size)
    )
    return list((await session.execute(stmt)).all())


async def lesson_funnel(session: AsyncSession, course_id: int) -> list[tuple[int, int, str, int]]:
    """(lesson id, position, title, active students who completed it), in lesson order:
    one grouped statement."""
    active = and_(
        Enrollment.user_id == LessonCompletion.user_id,
        Enrollment.course_id == Lesson.course_id,
        Enrollment.status == EnrollmentStatus.ACTIVE,
    )
    stmt = (
        select(Lesson.id, Lesson.position, Lesson.title, func.count(Enrollment.id))
        .outerjoin(LessonCompletion, LessonCompletion.lesson_id == Lesson.id)
        .outerjoin(Enrollment, active)
        .where(Lesson.course_id == course_id)
        .group_by(Lesson.id, Lesson.position, Lesson.title)
        .order_by(Lesson.position)
    )
    return [(int(i), int(p), str(t), int(n)) for i, p, t, n in (await session.execute(stmt)).all()]


async def gradebook_page(
    session: AsyncSession, *, course_id: int, dialect: str, params: PageParams
) -> PageResult[Any]:
    """One page of :func:`gradebook_statement` rows, sorted in SQL, and the total."""
    return await fetch_page(
        session,
        ListQuery(page=gradebook_statement(course_id, dialect), count=gradebook_total(course_id)),
        params,
        sort_columns=gradebook_sorts(course_id, dialect),
        tie_breaker=Enrollment.id,
        scalars=False,
        core=True,
    )
