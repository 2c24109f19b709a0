"""SQL for courses and lessons, with the visibility scope every read goes through."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    bindparam,
    delete,
    exists,
    func,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from campus.courses.schemas import (
    CourseCard,
    CourseFilters,
    LessonRef,
    TeacherName,
)
from campus.kit.clock import utcnow
from campus.kit.driverreads import fetch_rows
from campus.kit.pagination.envelope import PageResult
from campus.kit.pagination.params import PageParams
from campus.kit.pagination.statements import AnySelect, ListQuery, fetch_page
from campus.kit.text import fold, like_contains
from campus.models.accounts import User, UserRole
from campus.models.counters import Counter, counter_value
from campus.models.courses import Course, Lesson
from campus.models.learning import Enrollment, EnrollmentStatus

LIKE_ESCAPE = "\\"

COURSE_SORTS: dict[str, ColumnElement[Any]] = {
    "created_at": Course.created_at.expression,
    "title": Course.title.expression,
    "price_cents": Course.price_cents.expression,
}
LESSON_SORTS: dict[str, ColumnElement[Any]] = {"position": Lesson.position.expression}


@cache
def _published() -> ColumnElement[bool]:
    # SQL expressions are immutable: built once, reused by every request (building them is
    # a measurable part of a request's CPU time; see docs/performance.md).
    return Course.is_published.is_(True)


def visible_to(actor: User | None) -> ColumnElement[bool]:
    """The courses ``actor`` may see: published ones; a teacher's own drafts; all for admins."""
    if actor is None:
        return _published()
    if actor.role == UserRole.ADMIN:
        return true()
    if actor.role == UserRole.TEACHER:
        return _published() | (Course.teacher_id == actor.id)
    return _published()


def visibility(actor: User | None) -> tuple[str, dict[str, Any]]:
    """The rule of :func:`visible_to` as a scope name and the values it binds, for
    statements built once per scope (:func:`visible_in`)."""
    if actor is None:
        return "published", {}
    if actor.role == UserRole.ADMIN:
        return "all", {}
    if actor.role == UserRole.TEACHER:
        return "teacher", {"viewer_id": actor.id}
    return "published", {}


@cache
def visible_in(scope: str) -> ColumnElement[bool]:
    """The condition of a visibility scope, the viewer's id as the parameter ``viewer_id``."""
    return {
        "published": _published(),
        "all": true(),
        "teacher": _published() | (Course.teacher_id == bindparam("viewer_id")),
    }[scope]


# --- courses ----------------------------------------------------------------------------


# The columns of a CourseCard, in its field order, then the teacher's name.
CARD_COLUMNS: tuple[ColumnElement[Any], ...] = (
    Course.id.expression,
    Course.slug.expression,
    Course.title.expression,
    Course.description.expression,
    Course.level.expression,
    Course.price_cents.expression,
    Course.currency.expression,
    Course.is_published.expression,
    Course.teacher_id.expression,
    Course.lessons_count.expression,
    Course.students_count.expression,
    Course.created_at.expression,
    Course.updated_at.expression,
    Course.cover_key.expression,
    User.full_name.label("teacher_name"),
)
CARD_WIDTH = len(CARD_COLUMNS)
_TEACHER_ID = [column.key for column in CARD_COLUMNS].index("teacher_id")


def course_card(row: Sequence[Any]) -> CourseCard:
    """The card of a row whose first :data:`CARD_WIDTH` columns are :data:`CARD_COLUMNS`."""
    fields = row[: CARD_WIDTH - 1]
    return CourseCard(*fields, teacher=TeacherName(row[_TEACHER_ID], row[CARD_WIDTH - 1]))  # type: ignore[misc]


@cache
def course_cards() -> Select[Any]:
    """``SELECT`` :data:`CARD_COLUMNS` ``FROM courses JOIN users`` (the teacher)."""
    return select(*CARD_COLUMNS).join(User, User.id == Course.teacher_id)


# What a course's representation is derived from, for its ETag (campus.http.conditional):
# any change of its own columns moves ``updated_at``; the counts are kept by triggers
# without touching it; the teacher's name comes from the users table.
VERSION_COLUMNS: tuple[ColumnElement[Any], ...] = (
    Course.id.expression,
    Course.updated_at.expression,
    Course.lessons_count.expression,
    Course.students_count.expression,
    Course.is_published.expression,
    Course.teacher_id.expression,
    User.full_name.label("teacher_name"),
)


def card_version(card: CourseCard) -> tuple[Any, ...]:
    """A loaded card's :data:`VERSION_COLUMNS` values (the same tuple the narrow read gives)."""
    return (
        card.id,
        card.updated_at,
        card.lessons_count,
        card.students_count,
        card.is_published,
        card.teacher_id,
        card.teacher.full_name,
    )


@cache
def course_versions() -> Select[Any]:
    """``SELECT`` :data:`VERSION_COLUMNS` ``FROM courses JOIN users``: a card's validator
    without its body (no description, no title)."""
    return select(*VERSION_COLUMNS).join(User, User.id == Course.teacher_id)


def course_list_query(
    actor: User | None, filters: CourseFilters, *, versions: bool = False
) -> ListQuery:
    """The catalog page (courses with teacher and counts) and its cheap count statement;
    ``versions``: the page selects :data:`VERSION_COLUMNS` only (the catalog's ETag)."""
    scope, values = visibility(actor)
    if filters.q:
        values["q_pattern"] = like_contains(fold(filters.q), LIKE_ESCAPE)
    if filters.level is not None:
        values["level"] = filters.level
    if filters.teacher_id is not None:
        values["teacher_id"] = filters.teacher_id
    shape = (
        scope,
        bool(filters.q),
        filters.level is not None,
        filters.teacher_id is not None,
        filters.is_free,
        versions,
    )
    page, count = _catalog_statements(*shape)
    return ListQuery(page=page, count=count, values=values, shape=("catalog", *shape))


async def list_course_cards(
    session: AsyncSession, actor: User | None, filters: CourseFilters, params: PageParams
) -> PageResult[CourseCard]:
    """One catalog page (:func:`course_list_query`) and its total, read with Core."""
    result: PageResult[Any] = await fetch_page(
        session,
        course_list_query(actor, filters),
        params,
        sort_columns=COURSE_SORTS,
        tie_breaker=Course.id.expression,
        scalars=False,
        core=True,
    )
    result.items = [course_card(row) for row in result.items]
    return result


async def list_course_versions(
    session: AsyncSession, actor: User | None, filters: CourseFilters, params: PageParams
) -> PageResult[tuple[Any, ...]]:
    """The same catalog page as :func:`list_course_cards` (same visibility, filters, order
    and total), each row as its :data:`VERSION_COLUMNS` values only."""
    result: PageResult[Any] = await fetch_page(
        session,
        course_list_query(actor, filters, versions=True),
        params,
        sort_columns=COURSE_SORTS,
        tie_breaker=Course.id.expression,
        scalars=False,
        core=True,
    )
    result.items = [tuple(row) for row in result.items]
    return result


@cache
def _catalog_statements(
    scope: str, q: bool, level: bool, teacher: bool, is_free: bool | None, versions: bool = False
) -> tuple[Select[Any], Select[Any]]:
    """The catalog statements of one shape, built once; the values are bound parameters."""
    conditions: list[ColumnElement[bool]] = [visible_in(scope)]
    if q:
        conditions.append(Course.search_text.like(bindparam("q_pattern"), escape=LIKE_ESCAPE))
    if level:
        conditions.append(Course.level == bindparam("level"))
    if teacher:
        conditions.append(Course.teacher_id == bindparam("teacher_id"))
    if is_free is True:
        conditions.append(Course.price_cents == 0)
    elif is_free is False:
        conditions.append(Course.price_cents > 0)
    page = (course_versions() if versions else course_cards()).where(*conditions)
    unfiltered = not (q or level or teacher) and is_free is None
    if unfiltered:
        count = _visible_total(scope)
    else:
        count = select(func.count()).select_from(Course).where(*conditions)
    return page, count


def _visible_total(scope: str) -> Select[Any]:
    """The unfiltered catalog's exact total from the maintained counters (no row is
    counted); a teacher's scope adds their own drafts, counted by the teacher index."""
    if scope == "all":
        return counter_value(Counter.COURSES)
    published = counter_value(Counter.PUBLISHED_COURSES)
    if scope == "published":
        return published
    own_drafts = (
        select(func.count())
        .select_from(Course)
        .where(Course.teacher_id == bindparam("viewer_id"), Course.is_published.is_(False))
        .scalar_subquery()
    )
    return select(published.scalar_subquery() + own_drafts)


async def get_visible_course(
    session: AsyncSession, actor: User | None, course_id: int
) -> Course | None:
    stmt = select(Course).where(Course.id == course_id, visible_to(actor))
    return (await session.execute(stmt)).scalar_one_or_none()


async def get_course_card(
    session: AsyncSession, actor: User | None, course_id: int
) -> CourseCard | None:
    """The course's card if ``actor`` may see it: one statement, executed with Core."""
    scope, values = visibility(actor)
    values["course_id"] = course_id
    rows = await fetch_rows(await session.connection(), _course_by_id(scope), values)
    return course_card(rows[0]) if rows else None


async def get_course_version(
    session: AsyncSession, actor: User | None, course_id: int
) -> tuple[Any, ...] | None:
    """The course's :data:`VERSION_COLUMNS` values if ``actor`` may see it (the visibility
    of :func:`get_course_card`), without reading its body."""
    scope, values = visibility(actor)
    values["course_id"] = course_id
    rows = await fetch_rows(await session.connection(), _course_by_id(scope, versions=True), values)
    return tuple(rows[0]) if rows else None


@cache
def _course_by_id(scope: str, *, versions: bool = False) -> Select[Any]:
    """The statement of :func:`get_course_card` (or, ``versions``, of
    :func:`get_course_version`), built once per visibility scope: a request only binds
    values instead of building (and cache-keying) a new expression."""
    columns = course_versions() if versions else course_cards()
    return columns.where(Course.id == bindparam("course_id"), visible_in(scope))


async def get_participation(
    session: AsyncSession, actor: User, course_id: int
) -> tuple[int, bool] | None:
    """``(teacher id, actor actively enrolled)`` of the course if ``actor`` may see it (the
    visibility of :func:`get_course_card`); one statement, executed with Core."""
    scope, values = visibility(actor)
    values["course_id"] = course_id
    values["user_id"] = actor.id
    rows = await fetch_rows(await session.connection(), _participation(scope), values)
    return (rows[0][0], bool(rows[0][1])) if rows else None


@cache
def _participation(scope: str) -> AnySelect:
    enrolled = exists().where(
        Enrollment.user_id == bindparam("user_id"),
        Enrollment.course_id == Course.id,
        Enrollment.status == EnrollmentStatus.ACTIVE,
    )
    return select(Course.teacher_id, enrolled).where(
        Course.id == bindparam("course_id"), visible_in(scope)
    )


async def lock_course(session: AsyncSession, course_id: int) -> bool:
    """Serialise changes to a course's lessons: ``SELECT ... FOR UPDATE`` on PostgreSQL.
    False when the course is gone (deleted by a request that committed while this waited).

    On SQLite a writing unit of work already holds the database's write lock
    (``BEGIN IMMEDIATE``) and SQLAlchemy renders no ``FOR UPDATE`` there.
    """
    stmt = select(Course.id).where(Course.id == course_id).with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none() is not None


async def slug_exists(session: AsyncSession, slug: str) -> bool:
    stmt = select(exists().where(Course.slug == slug))
    return bool((await session.execute(stmt)).scalar())


async def slugs_like(session: AsyncSession, base: str) -> set[str]:
    """Existing slugs equal to ``base`` or ``base-<anything>``."""
    pattern = base.replace("_", LIKE_ESCAPE + "_").replace("%", LIKE_ESCAPE + "%") + "-%"
    stmt = select(Course.slug).where(
        (Course.slug == base) | Course.slug.like(pattern, escape=LIKE_ESCAPE)
    )
    return set((await session.execute(stmt)).scalars().all())


async def delete_course(session: AsyncSession, course_id: int) -> None:
    """Delete the course; lessons, enrollments, completions go by ON DELETE CASCADE."""
    await session.execute(
        delete(Course).where(Course.id == course_id).execution_options(synchronize_session=False)
    )


async def set_cover_key(
    session: AsyncSession, course_id: int, key: str | None, *, only_if: str | None = None
) -> None:
    """Set (or clear, ``None``) the course's cover; with ``only_if``, only while the cover
    is that key (an image being deleted stops being the cover, another one stays)."""
    stmt = update(Course).where(Course.id == course_id)
    if only_if is not None:
        stmt = stmt.where(Course.cover_key == only_if)
    await session.execute(
        stmt.values(cover_key=key, updated_at=utcnow()).execution_options(synchronize_session=False)
    )


# --- lessons ----------------------------------------------------------------------------


async def list_lessons(
    session: AsyncSession, course_id: int, params: PageParams
) -> PageResult[Lesson]:
    """One page of the course's lessons and their total."""
    query = ListQuery(page=select(Lesson).where(Lesson.course_id == course_id))
    return await fetch_page(
        session, query, params, sort_columns=LESSON_SORTS, tie_breaker=Lesson.id.expression
    )


async def get_lesson_with_course(
    session: AsyncSession, actor: User | None, *, lesson_id: int, course_id: int | None = None
) -> tuple[Lesson, Course] | None:
    """A lesson and its course, if the course is visible to ``actor``."""
    conditions: list[Any] = [Lesson.id == lesson_id, visible_to(actor)]
    if course_id is not None:
        conditions.append(Lesson.course_id == course_id)
    stmt = select(Lesson, Course).join(Course, Course.id == Lesson.course_id).where(*conditions)
    row = (await session.execute(stmt)).first()
    return (row[0], row[1]) if row else None


async def get_course_lesson(
    session: AsyncSession, *, course_id: int, lesson_id: int
) -> Lesson | None:
    stmt = select(Lesson).where(Lesson.id == lesson_id, Lesson.course_id == course_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def max_position(session: AsyncSession, course_id: int) -> int:
    """The highest lesson position of the course (0 when it has none)."""
    stmt = select(func.coalesce(func.max(Lesson.position), 0)).where(Lesson.course_id == course_id)
    return int((await session.execute(stmt)).scalar_one())


async def set_position(session: AsyncSession, lesson_id: int, position: int) -> None:
    await session.execute(
        update(Lesson)
        .where(Lesson.id == lesson_id)
        .values(position=position)
        .execution_options(synchronize_session=False)
    )


async def shift_positions(
    session: AsyncSession, *, course_id: int, low: int, high: int, delta: int, offset: int
) -> None:
    """Add ``delta`` to the positions ``low..high`` of a course, never tripping the unique key.

    ``UNIQUE (course_id, position)`` is checked row by row (it is not deferrable), so a plain
    ``position = position + 1`` can collide half-way. The rows first move out of the way by
    ``offset`` (greater than every position in use), then to their final place.
    """
    if low > high:
        return
    in_range = and_(Lesson.course_id == course_id, Lesson.position.between(low, high))
    await session.execute(
        update(Lesson)
        .where(in_range)
        .values(position=Lesson.position + offset)
        .execution_options(synchronize_session=False)
    )
    moved = and_(
        Lesson.course_id == course_id, Lesson.position.between(low + offset, high + offset)
    )
    await session.execute(
        update(Lesson)
        .where(moved)
        .values(position=Lesson.position - offset + delta)
        .execution_options(synchronize_session=False)
    )


async def delete_lesson(session: AsyncSession, lesson_id: int) -> None:
    """Delete a lesson; its completions go by ON DELETE CASCADE."""
    await session.execute(
        delete(Lesson).where(Lesson.id == lesson_id).execution_options(synchronize_session=False)
    )


async def is_enrolled(session: AsyncSession, *, user_id: int, course_id: int) -> bool:
    stmt = select(
        exists().where(
            and_(
                Enrollment.user_id == user_id,
                Enrollment.course_id == course_id,
                Enrollment.status == EnrollmentStatus.ACTIVE,
            )
        )
    )
    return bool((await session.execute(stmt)).scalar())


# --- lessons a user works with (e.g. to link a task to one) ------------------------------


def _lesson_refs() -> Select[int, str, int, int, str]:
    return select(Lesson.id, Lesson.title, Lesson.position, Course.id, Course.title).join(
        Course, Course.id == Lesson.course_id
    )


def _refs(rows: Any) -> list[LessonRef]:
    return [LessonRef(*row) for row in rows]


async def own_course_lessons(session: AsyncSession, actor: User, *, limit: int) -> list[LessonRef]:
    """Lessons of the visible courses ``actor`` teaches or is actively enrolled in, by course
    title and position: one statement."""
    enrolled = exists().where(
        Enrollment.user_id == actor.id,
        Enrollment.course_id == Course.id,
        Enrollment.status == EnrollmentStatus.ACTIVE,
    )
    stmt = (
        _lesson_refs()
        .where(visible_to(actor), or_(Course.teacher_id == actor.id, enrolled))
        .order_by(Course.title, Course.id, Lesson.position)
        .limit(limit)
    )
    return _refs((await session.execute(stmt)).all())


async def lesson_refs(
    session: AsyncSession, actor: User | None, *, lesson_ids: Sequence[int]
) -> list[LessonRef]:
    """The given lessons whose course ``actor`` can see (others are left out): one statement."""
    if not lesson_ids:
        return []
    stmt = _lesson_refs().where(Lesson.id.in_(sorted(set(lesson_ids))), visible_to(actor))
    return _refs((await session.execute(stmt)).all())
