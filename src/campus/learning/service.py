"""Learning: enrollment, lesson completion and progress."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from campus.courses import service as course_service
from campus.courses.schemas import CourseCard
from campus.db import referenced_rows_may_vanish
from campus.errors import Conflict, Forbidden, NotFound, PaymentRequired
from campus.jobs import enqueue
from campus.kit.aftercommit import after_commit
from campus.kit.clock import utcnow
from campus.kit.i18n import N_
from campus.kit.pagination.envelope import PageResult
from campus.kit.pagination.params import PageParams
from campus.learning import repository
from campus.models.accounts import User
from campus.models.learning import EnrollmentStatus
from campus.notifications import service as notifications
from campus.operations import counters
from campus.operations.activity import learner_active
from campus.realtime.broadcast import access_changed_after_commit

quiz_summary = repository.quiz_summary  # the quiz columns of a row, as Python values

CHECKOUT_PATH = "/api/v1/courses/{course_id}/checkout"
# Run (after the commit) when a lesson completion completes a course: campus.certificates.
COURSE_COMPLETED_JOB = "certificates.issue"
STUDENT_SORTS = tuple(repository.STUDENT_SORTS)
ENROLL_ATTEMPTS = 3


@dataclass(frozen=True, slots=True)
class Progress:
    completed_lessons: int
    total_lessons: int
    completed_at: datetime | None
    # The course's quizzes (campus.assessments): mean best percent, passed, how many.
    quiz_score: int | None = None
    quizzes_passed: int = 0
    quizzes_total: int = 0

    @property
    def percent(self) -> int:
        if self.total_lessons == 0:
            return 0
        return self.completed_lessons * 100 // self.total_lessons

    @classmethod
    def of(
        cls,
        completed: int,
        total: int,
        last_completed_at: datetime | None,
        quizzes: repository.QuizSummary = (None, 0, 0),
    ) -> Progress:
        """The course counts as completed when every lesson is; it happened at the last one.
        (A lesson with a quiz is completed only by passing the quiz.)"""
        done = total > 0 and completed >= total
        return cls(completed, total, last_completed_at if done else None, *quizzes)

    @property
    def course_completed(self) -> bool:
        """Every lesson completed and every quiz of the course passed."""
        return self.completed_at is not None and self.quizzes_passed >= self.quizzes_total


@dataclass(frozen=True, slots=True)
class EnrollmentRow:
    """An enrollment as its endpoints answer with it (a row, not an ORM entity)."""

    id: int
    user_id: int
    course_id: int
    status: EnrollmentStatus
    enrolled_at: datetime


@dataclass(frozen=True, slots=True)
class EnrollmentResult:
    enrollment: EnrollmentRow
    created: bool


async def _published_course(session: AsyncSession, actor: User, course_id: int) -> CourseCard:
    course = await course_service.get_course(session, actor, course_id=course_id)
    if not course.is_published:
        raise NotFound(N_("Course not found."))
    return course


async def enroll_student(session: AsyncSession, actor: User, *, course_id: int) -> EnrollmentResult:
    """Enroll ``actor``: created (201) the first time, unchanged (200) after; never twice.

    One statement reads the published course and the active enrollment (an enrolled
    learner's repeat costs just that); the enrollment itself is one insert-on-conflict,
    so concurrent requests make one row.
    """
    found = await repository.enrollment_gate(session, user_id=actor.id, course_id=course_id)
    if found is None:
        raise NotFound(N_("Course not found."))
    price_cents, currency, existing = found
    if existing is not None:
        return EnrollmentResult(EnrollmentRow(*existing), created=False)
    if price_cents > 0:
        # A buyer who left the course comes back without paying again.
        if await repository.holds_paid_purchase(session, user_id=actor.id, course_id=course_id):
            return await _enroll(session, user_id=actor.id, course_id=course_id)
        checkout = CHECKOUT_PATH.format(course_id=course_id)
        raise PaymentRequired(
            f"This course costs {price_cents / 100:.2f} {currency}; "
            f"buy it first with POST {checkout}.",
            checkout=checkout,
        )
    return await _enroll(session, user_id=actor.id, course_id=course_id)


async def _enroll(session: AsyncSession, *, user_id: int, course_id: int) -> EnrollmentResult:
    """Insert, reactivate, or keep the active enrollment: one row even under races."""
    now = utcnow()
    # A concurrent leave can cancel the row between these statements (READ COMMITTED):
    # then this enroll, the later request, reactivates it again. A course deleted
    # meanwhile is a 404.
    for _ in range(ENROLL_ATTEMPTS):
        async with referenced_rows_may_vanish(session, NotFound(N_("Course not found."))):
            activated = await repository.activate_enrollment(
                session, user_id=user_id, course_id=course_id, now=now
            )
        if activated is not None:
            await _tell_the_teacher(session, user_id=user_id, course_id=course_id)
            after_commit(session, counters.ENROLLMENTS.inc)
            after_commit(session, lambda: learner_active(user_id))
            return EnrollmentResult(EnrollmentRow(*activated), created=True)
        existing = await repository.active_enrollment_row(
            session, user_id=user_id, course_id=course_id
        )
        if existing is not None:
            return EnrollmentResult(EnrollmentRow(*existing), created=False)
    raise Conflict(N_("The enrollment changed meanwhile; try again."), code="enrollment-changed")


async def _tell_the_teacher(session: AsyncSession, *, user_id: int, course_id: int) -> None:
    """A new (or returning) student: a notification for the course's teacher, unless they
    enrolled in their own course."""
    found = await repository.teacher_and_student(session, course_id=course_id, user_id=user_id)
    if found is None:
        return
    teacher_id, course_title, student_name = found
    if teacher_id == user_id:
        return
    await notifications.notify(
        session,
        user_id=teacher_id,
        kind=notifications.STUDENT_JOINED,
        data={
            "course_id": course_id,
            "course_title": course_title,
            "student_id": user_id,
            "student_name": student_name,
        },
        link=f"/courses/{course_id}",
    )


async def enroll_paid(session: AsyncSession, *, user_id: int, course_id: int) -> EnrollmentResult:
    """Enroll a buyer whose payment for ``course_id`` was confirmed (by the payments domain).

    No visibility or price check: the purchase is the right to the course, even if the
    course was unpublished or its price changed since. Idempotent (one row, never twice).
    """
    return await _enroll(session, user_id=user_id, course_id=course_id)


async def end_paid_enrollment(session: AsyncSession, *, user_id: int, course_id: int) -> bool:
    """End a buyer's enrollment after a refund (lesson access goes with it); completions
    are kept. True when an active enrollment was ended."""
    ended = await repository.cancel_enrollment(session, user_id=user_id, course_id=course_id)
    if ended:
        access_changed_after_commit(session, user_ids=[user_id])
    return ended


async def is_enrolled(session: AsyncSession, *, user_id: int, course_id: int) -> bool:
    """Whether ``user_id`` is actively enrolled in ``course_id`` (one query)."""
    found = await repository.get_enrollment(session, user_id=user_id, course_id=course_id)
    return found is not None


async def unenroll_student(session: AsyncSession, actor: User, *, course_id: int) -> None:
    """Leave a course (completions are kept for a later return). Not enrolled: 404."""
    enrollment = await repository.get_enrollment(session, user_id=actor.id, course_id=course_id)
    if enrollment is None:
        raise NotFound(N_("You are not enrolled in this course."))
    enrollment.status = EnrollmentStatus.CANCELLED
    await session.flush()
    access_changed_after_commit(session, user_ids=[actor.id])


async def _require_enrollment(session: AsyncSession, actor: User, course_id: int) -> CourseCard:
    course = await _published_course(session, actor, course_id)
    if await repository.get_enrollment(session, user_id=actor.id, course_id=course.id) is None:
        raise Forbidden(N_("Enroll in this course first."), code="enrollment-required")
    return course


async def require_enrollment(session: AsyncSession, actor: User, *, course_id: int) -> None:
    """Published, visible and ``actor`` actively enrolled, or 404 / 403 ``enrollment-required``."""
    await _require_enrollment(session, actor, course_id)


async def get_progress(session: AsyncSession, actor: User, *, course_id: int) -> Progress:
    course = await _require_enrollment(session, actor, course_id)
    return Progress.of(
        *await repository.progress_counts(session, user_id=actor.id, course_id=course.id)
    )


async def completed_lesson_ids(
    session: AsyncSession, actor: User, *, course_id: int
) -> frozenset[int]:
    """The ids of the lessons of ``course_id`` that ``actor`` has completed (one query; only
    the actor's own completions, so no access check is needed)."""
    return frozenset(
        await repository.completed_lesson_ids(session, user_id=actor.id, course_id=course_id)
    )


async def complete_lesson(
    session: AsyncSession,
    actor: User,
    *,
    course_id: int,
    lesson_id: int,
    quiz_passed: bool = False,
) -> Progress:
    """Mark a lesson done (idempotent). Enrolled learners only; another course's lesson: 404.

    ``quiz_passed``: called because the lesson's quiz was just passed (campus.assessments),
    which may complete the course even when the lesson was completed before its quiz
    existed.

    One statement on PostgreSQL checks course, enrollment, lesson and quiz, reads the
    progress so far and inserts the completion if absent (:func:`repository.record_completion`).
    """
    now = utcnow()
    # The lesson (or its course) may be deleted by its teacher while this runs: 404. That
    # error ends the unit of work, so no savepoint is needed to go on after it.
    async with referenced_rows_may_vanish(
        session, NotFound(N_("Lesson not found.")), savepoint=False
    ):
        gate, created = await repository.record_completion(
            session, user_id=actor.id, course_id=course_id, lesson_id=lesson_id, now=now
        )
    if gate is None:
        raise NotFound(N_("Course not found."))
    if not gate.enrolled:
        raise Forbidden(N_("Enroll in this course first."), code="enrollment-required")
    if not gate.lesson_found:
        raise NotFound(N_("Lesson not found."))
    if gate.quiz_blocks:
        raise Conflict(
            N_("This lesson has a quiz: pass it to complete the lesson."), code="quiz-not-passed"
        )
    last = gate.last_completed_at
    if created and (last is None or now > last):
        last = now
    progress = Progress.of(gate.completed + created, gate.total, last, gate.quizzes)
    if created:
        after_commit(session, counters.LESSON_COMPLETIONS.inc)
        after_commit(session, lambda: learner_active(actor.id))
    # The certificate job checks again in its own unit of work (after the commit) and
    # issues once. Besides a completion that completes the course by this request's view,
    # one that leaves a single lesson open enqueues it too: that lesson may be completing
    # at this moment (two tabs, a double click), and neither transaction sees the other's
    # row before both commit, so each alone would think the course unfinished.
    last_but_one = created and progress.total_lessons - progress.completed_lessons <= 1
    if ((created or quiz_passed) and progress.course_completed) or last_but_one:
        enqueue(session, COURSE_COMPLETED_JOB, user_id=actor.id, course_id=course_id)
    return progress


async def has_completed_course(session: AsyncSession, *, user_id: int, course_id: int) -> bool:
    """Whether ``user_id``, actively enrolled, has completed ``course_id``: every lesson,
    every quiz passed (two queries; no visibility check: for the certificates domain)."""
    if await repository.get_enrollment(session, user_id=user_id, course_id=course_id) is None:
        return False
    progress = Progress.of(
        *await repository.progress_counts(session, user_id=user_id, course_id=course_id)
    )
    return progress.course_completed


async def uncomplete_lesson(
    session: AsyncSession, actor: User, *, course_id: int, lesson_id: int
) -> Progress:
    course = await _require_enrollment(session, actor, course_id)
    lesson = await course_service.get_readable_lesson(
        session, actor, lesson_id=lesson_id, course_id=course.id
    )
    await repository.delete_completion(session, user_id=actor.id, lesson_id=lesson.id)
    return Progress.of(
        *await repository.progress_counts(session, user_id=actor.id, course_id=course.id)
    )


@dataclass(frozen=True, slots=True)
class NextLesson:
    """Where a learner goes on in a course ("continue where you left off")."""

    lesson_id: int
    position: int
    title: str


async def continue_lessons(
    session: AsyncSession, actor: User, *, course_ids: list[int]
) -> dict[int, NextLesson]:
    """For each course of ``course_ids``: the first lesson ``actor`` has not completed after
    the one they completed last, else the first one not completed (so the first lesson
    when none is); a course whose lessons are all completed is absent. One query; it reads
    only the actor's own completions and the lessons' titles and positions (shown in the
    course's lesson list to everyone who can see the course), so callers pass the courses
    the actor is enrolled in."""
    found = await repository.continue_lessons(session, user_id=actor.id, course_ids=course_ids)
    return {course_id: NextLesson(*row) for course_id, row in found.items()}


@dataclass(frozen=True, slots=True)
class Student:
    """A student of the students page: the fields of ``StudentUser``, read as values."""

    id: int
    email: str
    full_name: str


@dataclass(frozen=True, slots=True)
class StudentRow:
    user: Student
    enrolled_at: datetime
    progress: Progress


async def list_students(
    session: AsyncSession, actor: User, *, course_id: int, params: PageParams
) -> PageResult[StudentRow]:
    """The course's active students with their progress: its teacher and admins only."""
    course = await course_service.get_course(session, actor, course_id=course_id)
    if not course_service.can_manage(actor, course):
        raise Forbidden(N_("Only the course's teacher or an admin can see its students."))
    page = await repository.list_students(session, course.id, params)
    page.items = [
        StudentRow(
            user=Student(user_id, email, full_name),
            enrolled_at=enrolled_at,
            progress=Progress.of(done, total, last, repository.quiz_summary(*quizzes)),
        )
        for user_id, email, full_name, enrolled_at, done, last, total, *quizzes in page.items
    ]
    return page


@dataclass(frozen=True, slots=True)
class CabinetRow:
    course: CourseCard
    enrolled_at: datetime
    progress: Progress


CABINET_SORTS = tuple(repository.CABINET_SORTS)


async def list_my_courses(
    session: AsyncSession, actor: User, *, params: PageParams
) -> PageResult[CabinetRow]:
    """The learner's cabinet: enrolled courses, when, and how far along."""
    page = await repository.list_cabinet(session, actor, params)
    page.items = [
        CabinetRow(
            course=course,
            enrolled_at=enrolled_at,
            progress=Progress.of(done, course.lessons_count, last, quizzes),
        )
        for course, enrolled_at, done, last, quizzes in page.items
    ]
    return page
