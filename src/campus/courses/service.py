"""Courses and lessons: the catalog, its content, and who may read it."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from slugify import slugify
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from campus.courses import repository
from campus.courses.schemas import (
    CONTENT_MAX,
    SLUG_MAX,
    CourseCard,
    CourseCreate,
    CourseFilters,
    CourseUpdate,
    LessonCreate,
    LessonRef,
    LessonUpdate,
)
from campus.errors import Conflict, Forbidden, NotFound, Unauthenticated, ValidationFailed
from campus.jobs import enqueue
from campus.kit import markdown
from campus.kit.aftercommit import after_commit
from campus.kit.i18n import N_
from campus.kit.pagination.envelope import PageResult
from campus.kit.pagination.params import PageParams
from campus.models.accounts import User, UserRole
from campus.models.courses import Course, Lesson
from campus.notifications import service as notifications
from campus.realtime.broadcast import access_changed_after_commit

# A derived slug keeps room for a "-<n>" suffix within the explicit-slug limit.
DERIVED_SLUG_MAX = SLUG_MAX - 12
SLUG_ATTEMPTS = 8
FALLBACK_SLUG = "course"
COURSE_GONE = N_("Course not found.")
# The media domain's job that deletes the files of deleted courses (by name: no import).
MEDIA_PURGE_JOB = "media.purge"


def can_manage(actor: User | None, course: Course | CourseCard) -> bool:
    """The course's teacher and admins manage a course (edit it, its lessons, its students)."""
    return _manages(actor, course.teacher_id)


def _manages(actor: User | None, teacher_id: int) -> bool:
    return actor is not None and (actor.role == UserRole.ADMIN or teacher_id == actor.id)


# --- courses ----------------------------------------------------------------------------


async def list_courses(
    session: AsyncSession, actor: User | None, *, filters: CourseFilters, page: PageParams
) -> PageResult[CourseCard]:
    """The catalog page ``actor`` may see, with teacher and counts from the same query."""
    return await repository.list_course_cards(session, actor, filters, page)


async def catalog_version(
    session: AsyncSession, actor: User | None, *, filters: CourseFilters, page: PageParams
) -> PageResult[tuple[Any, ...]]:
    """What the catalog page ``actor`` would see is derived from (its rows' versions and
    its total), read without the rows' bodies: the catalog's ETag."""
    return await repository.list_course_versions(session, actor, filters, page)


async def course_version(
    session: AsyncSession, actor: User | None, *, course_id: int
) -> tuple[Any, ...] | None:
    """The course's version values (its ETag) if ``actor`` may see it, else None."""
    return await repository.get_course_version(session, actor, course_id)


def card_version(card: CourseCard) -> tuple[Any, ...]:
    return repository.card_version(card)


def viewer_scope(actor: User | None) -> tuple[Any, ...]:
    """Whose view of the catalog a page is (the rows a viewer sees differ by visibility)."""
    scope, values = repository.visibility(actor)
    return (scope, values.get("viewer_id"))


async def get_course(session: AsyncSession, actor: User | None, *, course_id: int) -> CourseCard:
    course = await repository.get_course_card(session, actor, course_id)
    if course is None:
        raise NotFound(N_("Course not found."))
    return course


async def get_managed_course(session: AsyncSession, actor: User, *, course_id: int) -> CourseCard:
    """A course as its editor shows it: invisible -> 404, visible but not ``actor``'s -> 403."""
    course = await get_course(session, actor, course_id=course_id)
    if not can_manage(actor, course):
        raise Forbidden(N_("Only the course's teacher or an admin may change it."))
    return course


async def list_managed_courses(
    session: AsyncSession, actor: User, *, page: PageParams
) -> PageResult[CourseCard]:
    """The courses ``actor`` manages: a teacher's own (drafts included), every one for an admin."""
    filters = CourseFilters(teacher_id=None if actor.role == UserRole.ADMIN else actor.id)
    return await list_courses(session, actor, filters=filters, page=page)


async def _managed_course(session: AsyncSession, actor: User, course_id: int) -> Course:
    """The course if ``actor`` may change it: invisible -> 404, visible but not theirs -> 403."""
    course = await repository.get_visible_course(session, actor, course_id)
    if course is None:
        raise NotFound(N_("Course not found."))
    if not can_manage(actor, course):
        raise Forbidden(N_("Only the course's teacher or an admin may change it."))
    return course


def derive_slug(title: str) -> str:
    """A readable Latin slug from a title in any script ("Основы Python" -> "osnovy-python")."""
    slug = slugify(title, max_length=DERIVED_SLUG_MAX, word_boundary=True, save_order=True)
    return slug or FALLBACK_SLUG


def _first_free(base: str, taken: set[str]) -> str:
    if base not in taken:
        return base
    suffix = re.compile(re.escape(base) + r"-(\d{1,9})")
    numbers = [int(m.group(1)) for s in taken if (m := suffix.fullmatch(s))]
    return f"{base}-{max([1, *numbers]) + 1}"


def _slug_taken(slug: str) -> Conflict:
    return Conflict(f"The slug {slug!r} is already taken.", code="slug-taken")


async def _flush_in_savepoint(session: AsyncSession, course: Course) -> bool:
    """Flush ``course`` in a savepoint; False when the slug's unique key refused it."""
    try:
        async with session.begin_nested():
            session.add(course)
            await session.flush()
    except IntegrityError:
        return False
    return True


def _render_when_committed(session: AsyncSession, text: str | None) -> None:
    """Markdown is rendered once, when written: in the background after the commit (off
    the event loop, bounded), so the views that follow find its HTML cached."""
    after_commit(session, lambda: markdown.prime(text))


async def create_course(session: AsyncSession, actor: User, *, data: CourseCreate) -> CourseCard:
    """A new course taught by ``actor``.

    An explicit slug that is taken is a 409. A derived slug that is taken gets the next
    numeric suffix ("python", "python-2", ...); if a concurrent request takes the same slug
    first, the insert fails on the unique key inside a savepoint and the next one is tried.
    """
    fields = data.model_dump(exclude={"slug"})
    if data.slug is not None:
        if await repository.slug_exists(session, data.slug):
            raise _slug_taken(data.slug)
        course = Course(**fields, slug=data.slug, teacher_id=actor.id)
        if not await _flush_in_savepoint(session, course):
            raise _slug_taken(data.slug)
    else:
        base = derive_slug(data.title)
        for _ in range(SLUG_ATTEMPTS):
            taken = await repository.slugs_like(session, base)
            course = Course(**fields, slug=_first_free(base, taken), teacher_id=actor.id)
            if await _flush_in_savepoint(session, course):
                break
        else:
            raise Conflict("Could not find a free slug; give one explicitly.", code="slug-taken")
    _render_when_committed(session, course.description)
    return await get_course(session, actor, course_id=course.id)


async def update_course(
    session: AsyncSession,
    actor: User,
    *,
    course_id: int,
    data: CourseCreate | CourseUpdate,
    replace: bool,
) -> CourseCard:
    """PUT (``replace``: every field, absent optional ones reset; absent slug kept) or PATCH."""
    course = await _managed_course(session, actor, course_id)
    fields: dict[str, Any] = data.model_dump(exclude_unset=not replace)
    slug = fields.pop("slug", None)
    if slug is not None and slug != course.slug:
        if await repository.slug_exists(session, slug):
            raise _slug_taken(slug)
        course.slug = slug
    access_before = (course.is_published, course.teacher_id)
    for name, value in fields.items():
        setattr(course, name, value)
    if "description" in fields:
        _render_when_committed(session, course.description)
    if (course.is_published, course.teacher_id) != access_before:
        access_changed_after_commit(session, course_ids=[course.id])
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:
        raise _slug_taken(course.slug) from None
    return await get_course(session, actor, course_id=course.id)


async def delete_course(session: AsyncSession, actor: User, *, course_id: int) -> None:
    """Delete a course with its lessons, enrollments and progress (ON DELETE CASCADE)."""
    course = await _managed_course(session, actor, course_id)
    await repository.delete_course(session, course.id)
    session.expunge(course)
    access_changed_after_commit(session, course_ids=[course_id])
    # Its media rows are detached by ON DELETE SET NULL; their files go after the commit.
    enqueue(session, MEDIA_PURGE_JOB)


async def set_cover(
    session: AsyncSession,
    actor: User,
    *,
    course_id: int,
    cover_key: str | None,
    only_if: str | None = None,
) -> CourseCard:
    """Set or clear (``None``) the course's cover image, by its media key. The media
    domain checks that the key is an image of this course; this checks who may."""
    course = await _managed_course(session, actor, course_id)
    await repository.set_cover_key(session, course.id, cover_key, only_if=only_if)
    return await get_course(session, actor, course_id=course.id)


# --- lessons ----------------------------------------------------------------------------


async def preview_markdown(session: AsyncSession, actor: User, *, course_id: int, text: str) -> str:
    """The HTML a draft of the course's lesson (or description) would show: the lesson
    page's renderer and sanitiser. The course's teacher and admins only; at most a
    lesson's length (``CONTENT_MAX`` characters)."""
    await get_managed_course(session, actor, course_id=course_id)
    if len(text) > CONTENT_MAX:
        raise ValidationFailed.field(
            ["content"], f"A lesson has at most {CONTENT_MAX:,} characters."
        )
    return await markdown.preview_html(text)


async def list_lessons(
    session: AsyncSession, actor: User | None, *, course_id: int, page: PageParams
) -> PageResult[Lesson]:
    """The course's lessons in order (without content) for anyone who can see the course."""
    if await repository.get_visible_course(session, actor, course_id) is None:
        raise NotFound(N_("Course not found."))
    return await repository.list_lessons(session, course_id, page)


async def get_readable_lesson(
    session: AsyncSession, actor: User | None, *, lesson_id: int, course_id: int | None = None
) -> Lesson:
    """The lesson, if ``actor`` may read its content (API.md §4, "Access to lesson content").

    Invisible course or a lesson of another course: 404. Preview lessons: anyone who can see
    the course. Otherwise the course's teacher, an admin or an actively enrolled student;
    anonymous: 401; anyone else: 403 ``enrollment-required``.
    """
    found = await repository.get_lesson_with_course(
        session, actor, lesson_id=lesson_id, course_id=course_id
    )
    if found is None:
        raise NotFound(N_("Lesson not found."))
    lesson, course = found
    if lesson.is_preview or can_manage(actor, course):
        return lesson
    if actor is None:
        raise Unauthenticated("Sign in to read this lesson.")
    if await repository.is_enrolled(session, user_id=actor.id, course_id=course.id):
        return lesson
    raise Forbidden(N_("Enroll in this course to read this lesson."), code="enrollment-required")


@dataclass(frozen=True, slots=True)
class Participation:
    """How ``actor`` takes part in a course (see :func:`require_participation`)."""

    manages: bool  # the course's teacher or an admin (may moderate its chat)


async def require_participation(
    session: AsyncSession, actor: User, *, course_id: int
) -> Participation:
    """How ``actor`` takes part in the course: its teacher, an admin, or an actively
    enrolled student (who may read and write its chat). The same rule as a lesson's content
    (:func:`get_readable_lesson`) without the preview exception. A course ``actor`` cannot
    see: 404; one they see but do not take part in: 403 ``enrollment-required``. One
    statement, built once per visibility scope (the chat's every read and write asks).
    """
    found = await repository.get_participation(session, actor, course_id)
    if found is None:
        raise NotFound(COURSE_GONE)
    teacher_id, enrolled = found
    manages = _manages(actor, teacher_id)
    if manages or enrolled:
        return Participation(manages=manages)
    raise Forbidden(
        N_("Only the course's teacher, admins and its enrolled students take part in it."),
        code="enrollment-required",
    )


LINKABLE_LESSONS_MAX = 300


async def list_linkable_lessons(
    session: AsyncSession, actor: User, *, limit: int = LINKABLE_LESSONS_MAX
) -> list[LessonRef]:
    """Lessons to offer when ``actor`` links something to a lesson (e.g. a task): those of
    the courses they teach or are enrolled in (every one of them passes
    ``get_readable_lesson``), grouped by course, at most ``limit``."""
    return await repository.own_course_lessons(session, actor, limit=limit)


async def describe_lessons(
    session: AsyncSession, actor: User | None, *, lesson_ids: Sequence[int]
) -> dict[int, LessonRef]:
    """Title, position and course of each given lesson in a course ``actor`` can see, by id
    (one statement; invisible or deleted lessons are absent)."""
    refs = await repository.lesson_refs(session, actor, lesson_ids=lesson_ids)
    return {ref.lesson_id: ref for ref in refs}


def _position_out_of_range(highest: int) -> ValidationFailed:
    return ValidationFailed.field(
        ["body", "position"], f"position must be between 1 and {highest}", "less_than_equal"
    )


async def _managed_lesson(
    session: AsyncSession, actor: User, *, course_id: int, lesson_id: int
) -> Lesson:
    """A lesson of a course ``actor`` manages, with the course row locked for reordering."""
    course = await _managed_course(session, actor, course_id)
    if not await repository.lock_course(session, course.id):
        raise NotFound(COURSE_GONE)
    lesson = await repository.get_course_lesson(session, course_id=course.id, lesson_id=lesson_id)
    if lesson is None:
        raise NotFound(N_("Lesson not found."))
    return lesson


async def create_lesson(
    session: AsyncSession, actor: User, *, course_id: int, data: LessonCreate
) -> Lesson:
    """Append the lesson, or insert it at ``position`` (1..n+1) moving later ones down.

    The course row is locked first (``FOR UPDATE`` on PostgreSQL; SQLite writers are
    serialised), so concurrent inserts into one course get distinct positions. Enrolled
    learners who had finished the course have not finished it any more.
    """
    course = await _managed_course(session, actor, course_id)
    if not await repository.lock_course(session, course.id):
        raise NotFound(COURSE_GONE)  # deleted while this request waited for the lock
    highest = await repository.max_position(session, course.id)
    position = data.position if data.position is not None else highest + 1
    if position > highest + 1:
        raise _position_out_of_range(highest + 1)
    await repository.shift_positions(
        session, course_id=course.id, low=position, high=highest, delta=1, offset=highest + 1
    )
    lesson = Lesson(**data.model_dump(exclude={"position"}), course_id=course.id, position=position)
    session.add(lesson)
    await session.flush()
    _render_when_committed(session, lesson.content)
    if course.is_published:
        # Its students hear of it: one INSERT ... SELECT, whatever their number, delivered
        # live after the commit.
        await notifications.notify_course_students(
            session,
            course_id=course.id,
            kind=notifications.LESSON_PUBLISHED,
            data={
                "course_id": course.id,
                "course_title": course.title,
                "lesson_id": lesson.id,
                "lesson_title": lesson.title,
            },
            link=f"/courses/{course.id}/lessons/{lesson.id}",
        )
    # Course completion is derived from the completions (campus.learning.service.Progress),
    # so a new lesson re-opens the course for everyone without a write here.
    return lesson


async def _move(session: AsyncSession, lesson: Lesson, new_position: int) -> None:
    """Move ``lesson`` to ``new_position`` (1..n), shifting the lessons in between."""
    highest = await repository.max_position(session, lesson.course_id)
    if new_position > highest:
        raise _position_out_of_range(highest)
    old = lesson.position
    if new_position == old:
        return
    parked = highest + 1
    await repository.set_position(session, lesson.id, parked)
    if new_position < old:
        low, high, delta = new_position, old - 1, 1
    else:
        low, high, delta = old + 1, new_position, -1
    await repository.shift_positions(
        session, course_id=lesson.course_id, low=low, high=high, delta=delta, offset=parked
    )
    await repository.set_position(session, lesson.id, new_position)
    await session.refresh(lesson)


async def update_lesson(
    session: AsyncSession,
    actor: User,
    *,
    course_id: int,
    lesson_id: int,
    data: LessonCreate | LessonUpdate,
    replace: bool,
) -> Lesson:
    """PUT (``replace``: absent optional fields reset, absent position kept) or PATCH."""
    lesson = await _managed_lesson(session, actor, course_id=course_id, lesson_id=lesson_id)
    fields: dict[str, Any] = data.model_dump(exclude_unset=not replace)
    position = fields.pop("position", None)
    if position is not None:
        await _move(session, lesson, position)
    for name, value in fields.items():
        setattr(lesson, name, value)
    await session.flush()
    if "content" in fields:
        _render_when_committed(session, lesson.content)
    return lesson


async def delete_lesson(
    session: AsyncSession, actor: User, *, course_id: int, lesson_id: int
) -> None:
    """Delete the lesson (its completions go with it) and close the gap in positions."""
    lesson = await _managed_lesson(session, actor, course_id=course_id, lesson_id=lesson_id)
    highest = await repository.max_position(session, lesson.course_id)
    await repository.delete_lesson(session, lesson.id)
    await repository.shift_positions(
        session,
        course_id=lesson.course_id,
        low=lesson.position + 1,
        high=highest,
        delta=-1,
        offset=highest + 1,
    )
    session.expunge(lesson)
