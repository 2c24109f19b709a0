"""SQL for enrollments, lesson completions and progress."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any, cast

from sqlalchemy import (
    BindParameter,
    Integer,
    Table,
    and_,
    bindparam,
    case,
    delete,
    exists,
    func,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from campus.courses.repository import CARD_WIDTH, course_card, course_cards, visibility, visible_in
from campus.courses.schemas import CourseCard
from campus.kit.pagination.envelope import PageResult
from campus.kit.pagination.params import PageParams
from campus.kit.pagination.statements import AnySelect, ListQuery, fetch_page
from campus.models.accounts import User
from campus.models.assessments import Quiz, QuizAttempt
from campus.models.courses import Course, Lesson
from campus.models.learning import Enrollment, EnrollmentStatus, LessonCompletion
from campus.models.payments import Payment, PaymentStatus


def _insert(session: AsyncSession, table: Any) -> Any:
    """INSERT with ON CONFLICT support for the session's dialect."""
    return _dialect_insert(session.get_bind().dialect.name, table)


def _dialect_insert(dialect: str, table: Any) -> Any:
    if dialect == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


# --- the write paths, statements built once ----------------------------------------------
#
# A write request used to build each of its statements (and SQLAlchemy their cache keys)
# on every call, and to check course, enrollment, lesson and quiz in a round trip each
# (docs/performance.md, "Writes"). These are built once (per dialect where the statement
# differs); a request binds values only. Each executes on the session's connection with
# Core: the rows are values, not entities.

_USER: BindParameter[int] = bindparam("user_id", type_=Integer)
_COURSE: BindParameter[int] = bindparam("course_id", type_=Integer)
_LESSON: BindParameter[int] = bindparam("lesson_id", type_=Integer)
ENROLLMENT_COLUMNS = (
    Enrollment.id,
    Enrollment.user_id,
    Enrollment.course_id,
    Enrollment.status,
    Enrollment.enrolled_at,
)


@cache
def _enrollment_gate() -> AnySelect:
    """A published course's price and the learner's active enrollment in it (outer join:
    the enrollment's columns are null when there is none); no row: no such published course.
    (Every viewer may see a published course, so no visibility scope is needed.)"""
    active = and_(
        Enrollment.course_id == Course.id,
        Enrollment.user_id == _USER,
        Enrollment.status == EnrollmentStatus.ACTIVE,
    )
    return (
        select(Course.price_cents, Course.currency, *ENROLLMENT_COLUMNS)
        .select_from(Course)
        .outerjoin(Enrollment, active)
        .where(Course.id == _COURSE, Course.is_published.is_(True))
    )


async def enrollment_gate(
    session: AsyncSession, *, user_id: int, course_id: int
) -> tuple[int, str, tuple[Any, ...] | None] | None:
    """``(price_cents, currency, enrollment row or None)`` of a published course, or None
    when there is no such published course: one statement."""
    connection = await session.connection()
    result = await connection.execute(
        _enrollment_gate(), {"user_id": user_id, "course_id": course_id}
    )
    row = result.first()
    if row is None:
        return None
    price, currency, *enrollment = row
    return price, currency, (tuple(enrollment) if enrollment[0] is not None else None)


@cache
def _enrollment_upsert(dialect: str) -> Any:
    """Insert the active enrollment, or turn a cancelled one active again; returns the row
    only when this statement made it active (nothing when it already was)."""
    table = Enrollment.__table__
    stmt = _dialect_insert(dialect, table).values(
        user_id=_USER,
        course_id=_COURSE,
        status=EnrollmentStatus.ACTIVE,
        enrolled_at=bindparam("now", type_=Enrollment.enrolled_at.type),
    )
    return stmt.on_conflict_do_update(
        index_elements=["user_id", "course_id"],
        set_={"status": stmt.excluded.status, "enrolled_at": stmt.excluded.enrolled_at},
        where=table.c.status != EnrollmentStatus.ACTIVE,
    ).returning(*(table.c[column.key] for column in ENROLLMENT_COLUMNS))


async def activate_enrollment(
    session: AsyncSession, *, user_id: int, course_id: int, now: datetime
) -> tuple[Any, ...] | None:
    """Insert or reactivate the learner's enrollment (one statement, one row even under
    races); the row when it became active now, None when it was active already."""
    connection = await session.connection()
    result = await connection.execute(
        _enrollment_upsert(connection.dialect.name),
        {"user_id": user_id, "course_id": course_id, "now": now},
    )
    row = result.first()
    return tuple(row) if row is not None else None


@cache
def _active_enrollment() -> AnySelect:
    return select(*ENROLLMENT_COLUMNS).where(
        Enrollment.user_id == _USER,
        Enrollment.course_id == _COURSE,
        Enrollment.status == EnrollmentStatus.ACTIVE,
    )


async def active_enrollment_row(
    session: AsyncSession, *, user_id: int, course_id: int
) -> tuple[Any, ...] | None:
    """The learner's active enrollment as a row of :data:`ENROLLMENT_COLUMNS`, or None."""
    connection = await session.connection()
    result = await connection.execute(
        _active_enrollment(), {"user_id": user_id, "course_id": course_id}
    )
    row = result.first()
    return tuple(row) if row is not None else None


_GATE_FIELDS = ("enrolled", "lesson_found", "quiz_blocks", "completed", "total", "last")


@cache
def _completion_gate() -> AnySelect:
    """Everything a lesson completion checks and answers with, in one statement: a row
    only for a published course, then whether the learner is actively enrolled, whether
    the lesson is one of the course's, whether a quiz of the lesson is not passed yet, and
    the learner's progress in the course before this completion (completions, lessons,
    last completion, quizzes)."""
    enrolled = exists().where(
        Enrollment.user_id == _USER,
        Enrollment.course_id == Course.id,
        Enrollment.status == EnrollmentStatus.ACTIVE,
    )
    lesson_here = exists().where(Lesson.id == _LESSON, Lesson.course_id == Course.id)
    passed = exists().where(
        QuizAttempt.quiz_id == Quiz.id,
        QuizAttempt.user_id == _USER,
        QuizAttempt.passed.is_(True),
    )
    quiz_blocks = exists().where(Quiz.lesson_id == _LESSON, ~passed)
    mine = (LessonCompletion.user_id == _USER, LessonCompletion.course_id == Course.id)
    done = select(func.count(LessonCompletion.id)).where(*mine).correlate(Course)
    last = select(func.max(LessonCompletion.completed_at)).where(*mine).correlate(Course)
    score, quizzes_passed, quizzes_total = quiz_columns(_USER, Course.id)
    columns = (
        enrolled,
        lesson_here,
        quiz_blocks,
        done.scalar_subquery(),
        Course.lessons_count,
        last.scalar_subquery(),
        score,
        quizzes_passed,
        quizzes_total,
    )
    names = (*_GATE_FIELDS, "quiz_score", "quizzes_passed", "quizzes_total")
    return select(*(c.label(n) for c, n in zip(columns, names, strict=True))).where(
        Course.id == _COURSE, Course.is_published.is_(True)
    )


@cache
def _completion_insert(dialect: str) -> Any:
    return (
        _dialect_insert(dialect, LessonCompletion.__table__)
        .values(
            user_id=_USER,
            lesson_id=_LESSON,
            course_id=_COURSE,
            completed_at=_NOW_COMPLETED,
        )
        .on_conflict_do_nothing(index_elements=["user_id", "lesson_id"])
        .returning(LessonCompletion.__table__.c.id)
    )


_NOW_COMPLETED: BindParameter[datetime] = bindparam("now", type_=LessonCompletion.completed_at.type)


@cache
def _gated_completion() -> AnySelect:
    """PostgreSQL: the gate and the insert in one statement. The insert (a data-modifying
    CTE) runs only when the gate lets it; the outer query sees the snapshot before it, so
    the gate's counts are the progress before this completion, as on SQLite."""
    gate = _completion_gate().cte("gate")
    allowed = (
        select(_USER, _LESSON, _COURSE, _NOW_COMPLETED)
        .select_from(gate)
        .where(gate.c.enrolled, gate.c.lesson_found, ~gate.c.quiz_blocks)
    )
    inserted = (
        postgresql.insert(cast(Table, LessonCompletion.__table__))
        .from_select(["user_id", "lesson_id", "course_id", "completed_at"], allowed)
        .on_conflict_do_nothing(index_elements=["user_id", "lesson_id"])
        .returning(LessonCompletion.__table__.c.id)
        .cte("inserted")
    )
    return select(*gate.c, exists(select(inserted.c.id)).label("created"))


@dataclass(frozen=True, slots=True)
class CompletionGate:
    enrolled: bool
    lesson_found: bool
    quiz_blocks: bool
    completed: int
    total: int
    last_completed_at: datetime | None
    quizzes: QuizSummary

    @property
    def allows(self) -> bool:
        return self.enrolled and self.lesson_found and not self.quiz_blocks


def _gate(row: Sequence[Any]) -> CompletionGate:
    enrolled, lesson_found, blocks, done, total, last, *quizzes = row[:9]
    return CompletionGate(
        bool(enrolled),
        bool(lesson_found),
        bool(blocks),
        int(done or 0),
        int(total or 0),
        last,
        quiz_summary(*quizzes),
    )


async def record_completion(
    session: AsyncSession, *, user_id: int, course_id: int, lesson_id: int, now: datetime
) -> tuple[CompletionGate | None, bool]:
    """Check and record a lesson completion: ``(gate, created)``. The gate is None when
    there is no such published course; the completion is inserted (if absent) only when
    :attr:`CompletionGate.allows`; ``created``: this call inserted it. One statement on
    PostgreSQL (:func:`_gated_completion`), the gate and the insert on SQLite (no network
    there). A foreign-key violation (the lesson deleted meanwhile) propagates."""
    connection = await session.connection()
    values = {"user_id": user_id, "course_id": course_id, "lesson_id": lesson_id, "now": now}
    if connection.dialect.name == "postgresql":
        row = (await connection.execute(_gated_completion(), values)).first()
        return (None, False) if row is None else (_gate(row), bool(row[-1]))
    row = (await connection.execute(_completion_gate(), values)).first()
    if row is None:
        return None, False
    gate = _gate(row)
    if not gate.allows:
        return gate, False
    inserted = await connection.execute(_completion_insert(connection.dialect.name), values)
    return gate, inserted.first() is not None


async def insert_enrollment_if_absent(
    session: AsyncSession, *, user_id: int, course_id: int, now: datetime
) -> int | None:
    """Insert an active enrollment; None when one (in any status) already exists."""
    stmt = (
        _insert(session, Enrollment)
        .values(
            user_id=user_id,
            course_id=course_id,
            status=EnrollmentStatus.ACTIVE,
            enrolled_at=now,
        )
        .on_conflict_do_nothing(index_elements=["user_id", "course_id"])
        .returning(Enrollment.id)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def cancel_enrollment(session: AsyncSession, *, user_id: int, course_id: int) -> bool:
    """Cancel an active enrollment; False when there is none."""
    stmt = (
        update(Enrollment)
        .where(
            Enrollment.user_id == user_id,
            Enrollment.course_id == course_id,
            Enrollment.status == EnrollmentStatus.ACTIVE,
        )
        .values(status=EnrollmentStatus.CANCELLED)
        .returning(Enrollment.id)
    )
    return (await session.execute(stmt)).scalar_one_or_none() is not None


async def get_enrollment(
    session: AsyncSession, *, user_id: int, course_id: int, active_only: bool = True
) -> Enrollment | None:
    stmt = select(Enrollment).where(
        Enrollment.user_id == user_id, Enrollment.course_id == course_id
    )
    if active_only:
        stmt = stmt.where(Enrollment.status == EnrollmentStatus.ACTIVE)
    return (
        await session.execute(stmt.execution_options(populate_existing=True))
    ).scalar_one_or_none()


async def insert_completion_if_absent(
    session: AsyncSession, *, user_id: int, lesson_id: int, course_id: int, now: datetime
) -> bool:
    """Record the completion; True if this statement made it (False: it existed)."""
    connection = await session.connection()
    values = {"user_id": user_id, "lesson_id": lesson_id, "course_id": course_id, "now": now}
    result = await connection.execute(_completion_insert(connection.dialect.name), values)
    return result.first() is not None


async def delete_completion(session: AsyncSession, *, user_id: int, lesson_id: int) -> None:
    stmt = delete(LessonCompletion).where(
        LessonCompletion.user_id == user_id, LessonCompletion.lesson_id == lesson_id
    )
    await session.execute(stmt)


async def completed_lesson_ids(session: AsyncSession, *, user_id: int, course_id: int) -> set[int]:
    stmt = select(LessonCompletion.lesson_id).where(
        LessonCompletion.user_id == user_id, LessonCompletion.course_id == course_id
    )
    return set((await session.execute(stmt)).scalars().all())


def lessons_total(course_id: Any) -> Any:
    """Scalar subquery: the number of lessons of a course (kept by triggers on the course)."""
    return select(Course.lessons_count).where(Course.id == course_id).scalar_subquery()


def completions_of(user_id: Any, course_id: Any) -> AnySelect:
    return select(func.count(LessonCompletion.id), func.max(LessonCompletion.completed_at)).where(
        LessonCompletion.user_id == user_id, LessonCompletion.course_id == course_id
    )


def quiz_columns(user_id: Any, course_id: Any) -> tuple[Any, Any, Any]:
    """Scalar subqueries of one learner's quizzes in one course (read only; the assessments
    domain writes these tables): the mean of the best submitted percent of every quiz of
    the course (an untried quiz counts 0; null when the course has no quiz), the number of
    quizzes passed, and the number of quizzes. Each is correlated on the quizzes' course
    index and the attempts' (quiz, user) key, so a page's rows cost a few index probes."""
    best = (
        select(func.max(QuizAttempt.percent))
        .where(
            QuizAttempt.quiz_id == Quiz.id,
            QuizAttempt.user_id == user_id,
            QuizAttempt.submitted_at.is_not(None),
        )
        # Correlated two levels up too (the user, or the course, of the enclosing row).
        .correlate_except(QuizAttempt)
        .scalar_subquery()
    )
    score = (
        select(func.avg(func.coalesce(best, 0)))
        .where(Quiz.course_id == course_id)
        .correlate_except(Quiz)
    )
    passed_one = (
        exists()
        .where(
            QuizAttempt.quiz_id == Quiz.id,
            QuizAttempt.user_id == user_id,
            QuizAttempt.passed.is_(True),
        )
        .correlate_except(QuizAttempt)
    )
    passed = (
        select(func.count(Quiz.id))
        .where(Quiz.course_id == course_id, passed_one)
        .correlate_except(Quiz)
    )
    total = select(func.count(Quiz.id)).where(Quiz.course_id == course_id).correlate_except(Quiz)
    return score.scalar_subquery(), passed.scalar_subquery(), total.scalar_subquery()


QuizSummary = tuple[int | None, int, int]


def quiz_summary(score: Any, passed: Any, total: Any) -> QuizSummary:
    """The values of :func:`quiz_columns` as Python ints (the mean rounded half up)."""
    return (
        None if score is None else int(float(score) + 0.5),
        int(passed or 0),
        int(total or 0),
    )


async def progress_counts(
    session: AsyncSession, *, user_id: int, course_id: int
) -> tuple[int, int, datetime | None, QuizSummary]:
    """(completed, total, last completion time, quizzes) for one learner in one course:
    one query."""
    connection = await session.connection()
    result = await connection.execute(
        _progress_statement(), {"user_id": user_id, "course_id": course_id}
    )
    completed, total, last, *quizzes = result.one()
    return int(completed), int(total), last, quiz_summary(*quizzes)


@cache
def _progress_statement() -> AnySelect:
    done = completions_of(_USER, _COURSE).subquery()
    return select(done.c[0], lessons_total(_COURSE), done.c[1], *quiz_columns(_USER, _COURSE))


def students_query(course_id: int) -> ListQuery:
    """Active students of a course with their progress: page and count statements, built
    once (the course is the parameter ``course_id``)."""
    page, count = _students_statements()
    return ListQuery(page=page, count=count, values={"course_id": course_id}, shape="students")


@cache
def _students_statements() -> tuple[AnySelect, AnySelect]:
    """Active students of a course with their completion counts, for one page (no N+1):
    rows of :data:`STUDENT_COLUMNS` and the quiz columns. The count is the course's
    maintained count of active enrollments, instead of counting them.

    Each student's completions are correlated subqueries on the ``(user_id, course_id)``
    index, evaluated for the page's rows only (after the sort and limit on PostgreSQL), not
    an aggregate over every completion of the course, which grows with its popularity.
    """
    theirs = (LessonCompletion.user_id == User.id, LessonCompletion.course_id == _COURSE)
    completed = select(func.count(LessonCompletion.id)).where(*theirs).correlate(User)
    last_completed = select(func.max(LessonCompletion.completed_at)).where(*theirs).correlate(User)
    page = (
        select(
            *STUDENT_COLUMNS,
            Enrollment.enrolled_at,
            completed.scalar_subquery(),
            last_completed.scalar_subquery(),
            lessons_total(_COURSE),
            *quiz_columns(User.id, _COURSE),
        )
        .join(Enrollment, Enrollment.user_id == User.id)
        .where(Enrollment.course_id == _COURSE, Enrollment.status == EnrollmentStatus.ACTIVE)
    )
    count = select(Course.students_count).where(Course.id == _COURSE)
    return page, count


# The student of a row of the students page (the fields of StudentUser).
STUDENT_COLUMNS = (User.id.expression, User.email.expression, User.full_name.expression)
STUDENT_SORTS: dict[str, Any] = {"enrolled_at": Enrollment.enrolled_at}
STUDENT_TIE_BREAKER = Enrollment.id


async def list_students(
    session: AsyncSession, course_id: int, params: PageParams
) -> PageResult[Any]:
    """One page of :func:`students_query` and the total, read with Core: rows ``(user id,
    email, full name, enrolled_at, completed, last completed at, lessons, *quizzes)``."""
    return await fetch_page(
        session,
        students_query(course_id),
        params,
        sort_columns=STUDENT_SORTS,
        tie_breaker=STUDENT_TIE_BREAKER,
        scalars=False,
        core=True,
    )


CABINET_SORTS: dict[str, Any] = {"enrolled_at": Enrollment.enrolled_at, "title": Course.title}


def cabinet_query(actor: User) -> ListQuery:
    """The learner's active enrollments in visible courses: page and count statements.

    The page carries the course card (campus.courses.repository.CARD_COLUMNS), the
    enrollment time and the learner's completions in the same statement (no query per
    row), read with Core.
    """
    scope, values = visibility(actor)
    values["learner_id"] = actor.id
    page, count = _cabinet_statements(scope)
    return ListQuery(page=page, count=count, values=values, shape=("cabinet", scope))


async def list_cabinet(session: AsyncSession, actor: User, params: PageParams) -> PageResult[Any]:
    """One page of the cabinet (:func:`cabinet_query`), read with Core, and the total:
    rows of :func:`cabinet_row`."""
    result: PageResult[Any] = await fetch_page(
        session,
        cabinet_query(actor),
        params,
        sort_columns=CABINET_SORTS,
        tie_breaker=Enrollment.id,
        scalars=False,
        core=True,
    )
    result.items = [cabinet_row(row) for row in result.items]
    return result


def cabinet_row(
    row: Sequence[Any],
) -> tuple[CourseCard, datetime, int, datetime | None, QuizSummary]:
    """A row of the cabinet page: the course card, enrolled at, completions, last one, and
    the learner's quizzes in the course."""
    enrolled_at, done, last, *quizzes = row[CARD_WIDTH:]
    return course_card(row), enrolled_at, done, last, quiz_summary(*quizzes)


@cache
def _cabinet_statements(scope: str) -> tuple[AnySelect, AnySelect]:
    """Built once per visibility scope; the learner is the parameter ``learner_id``."""
    learner: BindParameter[int] = bindparam("learner_id", type_=Integer)
    # The learner's completions in each course of the page: correlated subqueries on the
    # (user_id, course_id) index. PostgreSQL evaluates them after the sort and limit, for
    # the page's rows only; a grouped join re-aggregated all of the learner's completions
    # once per enrollment (bench/explain.py: 1.7 ms at 1m before).
    mine = (LessonCompletion.user_id == learner, LessonCompletion.course_id == Course.id)
    completed = select(func.count(LessonCompletion.id)).where(*mine).correlate(Course)
    last_completed = select(func.max(LessonCompletion.completed_at)).where(*mine).correlate(Course)
    conditions = (
        Enrollment.user_id == learner,
        Enrollment.status == EnrollmentStatus.ACTIVE,
        visible_in(scope),
    )
    page = (
        course_cards()
        .add_columns(
            Enrollment.enrolled_at,
            completed.scalar_subquery(),
            last_completed.scalar_subquery(),
            *quiz_columns(learner, Course.id),
        )
        .join(Enrollment, Enrollment.course_id == Course.id)
        .where(*conditions)
    )
    count = (
        select(func.count())
        .select_from(Enrollment)
        .join(Course, Course.id == Enrollment.course_id)
        .where(*conditions)
    )
    return page, count


async def holds_paid_purchase(session: AsyncSession, *, user_id: int, course_id: int) -> bool:
    """Whether the user holds a paid (not refunded) purchase of the course. The payments
    domain writes these rows and enrolls through the learning service; reading the table
    here keeps the two services free of an import cycle."""
    stmt = (
        select(Payment.id)
        .where(
            Payment.user_id == user_id,
            Payment.course_id == course_id,
            Payment.status == PaymentStatus.PAID,
        )
        .limit(1)
    )
    return (await session.execute(stmt)).first() is not None


async def digest_teacher_ids(session: AsyncSession) -> list[int]:
    """Active teachers and admins who opted in to the weekly digest and teach a course."""
    stmt = (
        select(User.id)
        .where(
            User.digest_emails.is_(True),
            User.is_active.is_(True),
            select(Course.id).where(Course.teacher_id == User.id).exists(),
        )
        .order_by(User.id)
    )
    return list((await session.execute(stmt)).scalars().all())


async def teacher_week(
    session: AsyncSession, *, teacher_id: int, start: datetime, end: datetime
) -> list[tuple[str, int, int]]:
    """Each of the teacher's courses: (title, new enrollments, lesson completions) in
    ``[start, end)``; two grouped counts, whatever the number of courses."""
    new_students = (
        select(func.count(Enrollment.id))
        .where(
            Enrollment.course_id == Course.id,
            Enrollment.enrolled_at >= start,
            Enrollment.enrolled_at < end,
        )
        .scalar_subquery()
    )
    completions = (
        select(func.count(LessonCompletion.id))
        .where(
            LessonCompletion.course_id == Course.id,
            LessonCompletion.completed_at >= start,
            LessonCompletion.completed_at < end,
        )
        .scalar_subquery()
    )
    stmt = (
        select(Course.title, new_students, completions)
        .where(Course.teacher_id == teacher_id)
        .order_by(Course.title, Course.id)
    )
    return [
        (title, int(n or 0), int(c or 0)) for title, n, c in (await session.execute(stmt)).all()
    ]


async def teacher_and_student(
    session: AsyncSession, *, course_id: int, user_id: int
) -> tuple[int, str, str] | None:
    """The course's teacher id and title and the student's name, in one statement."""
    stmt = (
        select(Course.teacher_id, Course.title, User.full_name)
        .select_from(Course)
        .join(User, User.id == user_id)
        .where(Course.id == course_id)
    )
    row = (await session.execute(stmt)).first()
    return (row[0], row[1], row[2]) if row is not None else None


async def continue_lessons(
    session: AsyncSession, *, user_id: int, course_ids: Sequence[int]
) -> dict[int, tuple[int, int, str]]:
    """Where ``user_id`` goes on in each course of ``course_ids``: ``{course_id: (lesson_id,
    position, title)}`` of the first lesson not completed after the one completed last (by time),
    else the first one not completed; a course with every lesson completed is absent.
    One statement for all the courses (window functions, on both databases)."""
    if not course_ids:
        return {}
    ids = sorted(set(course_ids))
    latest = (
        select(
            LessonCompletion.course_id.label("course_id"),
            Lesson.position.label("position"),
            func.row_number()
            .over(
                partition_by=LessonCompletion.course_id,
                order_by=(LessonCompletion.completed_at.desc(), Lesson.position.desc()),
            )
            .label("rank"),
        )
        .join(Lesson, Lesson.id == LessonCompletion.lesson_id)
        .where(LessonCompletion.user_id == user_id, LessonCompletion.course_id.in_(ids))
        .subquery("latest")
    )
    last = select(latest.c.course_id, latest.c.position).where(latest.c.rank == 1).subquery("last")
    done = exists().where(
        LessonCompletion.user_id == user_id, LessonCompletion.lesson_id == Lesson.id
    )
    after_last = case((Lesson.position > func.coalesce(last.c.position, 0), 0), else_=1)
    candidates = (
        select(
            Lesson.course_id.label("course_id"),
            Lesson.id.label("lesson_id"),
            Lesson.position.label("position"),
            Lesson.title.label("title"),
            func.row_number()
            .over(partition_by=Lesson.course_id, order_by=(after_last, Lesson.position))
            .label("rank"),
        )
        .outerjoin(last, last.c.course_id == Lesson.course_id)
        .where(Lesson.course_id.in_(ids), ~done)
        .subquery("candidates")
    )
    rows = await session.execute(
        select(
            candidates.c.course_id,
            candidates.c.lesson_id,
            candidates.c.position,
            candidates.c.title,
        ).where(candidates.c.rank == 1)
    )
    return {
        course_id: (lesson_id, position, title) for course_id, lesson_id, position, title in rows
    }
