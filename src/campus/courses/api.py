"""Courses and lessons JSON API (API.md §4)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response, status

from campus.courses import service
from campus.courses.schemas import (
    CourseCreate,
    CourseFilters,
    CourseLevel,
    CourseRead,
    CourseReplace,
    CourseUpdate,
    LessonCreate,
    LessonRead,
    LessonReplace,
    LessonSummary,
    LessonUpdate,
)
from campus.http.conditional import none_match, not_modified, set_cache_headers, strong_etag
from campus.http.deps import MAX_ID, IdPath, SessionDep, page_params, page_response
from campus.http.identity import CurrentUser, OptionalUser, TeacherUser
from campus.kit.pagination.envelope import Page, PageResult
from campus.kit.pagination.params import PageParams

router = APIRouter(prefix="/courses", tags=["courses"])

CourseId = Annotated[int, IdPath("Course id")]
LessonId = Annotated[int, IdPath("Lesson id")]
CoursePage = Annotated[
    PageParams, Depends(page_params(("created_at", "title", "price_cents"), "-created_at"))
]
LessonPage = Annotated[PageParams, Depends(page_params(("position",), "position"))]

Responses = dict[int | str, dict[str, Any]]
R401: Responses = {401: {"description": "Not authenticated"}}
R403: Responses = {403: {"description": "Signed in but not allowed"}}
R404: Responses = {404: {"description": "Not found, or not visible to you"}}
R409: Responses = {409: {"description": "The slug is already taken"}}
MANAGE: Responses = {**R401, **R403, **R404}


# --- conditional GETs (campus.http.conditional) -----------------------------------------


def _catalog_etag(
    request: Request, actor: Any, result: PageResult[Any], versions: list[tuple[Any, ...]]
) -> str:
    """The catalog page's ETag: this URL (its parameters and its links), whose view, the
    total, the next keyset and every row's version values."""
    return strong_etag(
        "catalog",
        (
            str(request.url),
            service.viewer_scope(actor),
            result.total,
            result.skip,
            result.limit,
            result.next_keyset,
            *versions,
        ),
    )


def _course_etag(version: tuple[Any, ...]) -> str:
    return strong_etag("course", version)


def _lesson_etag(lesson: Any) -> str:
    return strong_etag(
        "lesson",
        (lesson.id, lesson.course_id, lesson.updated_at, lesson.position, lesson.is_preview),
    )


# --- courses ----------------------------------------------------------------------------


@router.get("", response_model=Page[CourseRead])
async def list_courses(
    request: Request,
    response: Response,
    session: SessionDep,
    actor: OptionalUser,
    page: CoursePage,
    q: Annotated[
        str | None,
        Query(
            max_length=200,
            description=(
                "Words in the title or description: case-insensitive in every script "
                "(Unicode case folding), `%` and `_` match literally."
            ),
        ),
    ] = None,
    level: CourseLevel | None = None,
    teacher_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    is_free: Annotated[
        bool | None, Query(description="true: price 0 only; false: paid only.")
    ] = None,
) -> Any:
    """The catalog. Anonymous users and students see published courses, a teacher also
    their own drafts, an admin everything."""
    filters = CourseFilters(
        q=q.strip() if q else None, level=level, teacher_id=teacher_id, is_free=is_free
    )
    public = actor is None
    if request.headers.get("if-none-match"):
        versions = await service.catalog_version(session, actor, filters=filters, page=page)
        etag = _catalog_etag(request, actor, versions, versions.items)
        if none_match(request, etag):
            return not_modified(etag, public=public)
    result = await service.list_courses(session, actor, filters=filters, page=page)
    cards = [service.card_version(card) for card in result.items]
    set_cache_headers(response, _catalog_etag(request, actor, result, cards), public=public)
    return page_response(request, response, result)


@router.post(
    "",
    response_model=CourseRead,
    status_code=status.HTTP_201_CREATED,
    responses={**R401, **R403, **R409},
)
async def create_course(body: CourseCreate, session: SessionDep, actor: TeacherUser) -> Any:
    """Create a course (teachers and admins)."""
    return await service.create_course(session, actor, data=body)


@router.get(
    "/{course_id}",
    response_model=CourseRead,
    responses={**R404, 304: {"description": "`If-None-Match` matched the course's ETag"}},
)
async def get_course(
    request: Request,
    response: Response,
    course_id: CourseId,
    session: SessionDep,
    actor: OptionalUser,
) -> Any:
    """A course. Its strong `ETag` changes with the course, its counts and its teacher's
    name; `If-None-Match` with it answers 304 without the body."""
    public = actor is None
    if request.headers.get("if-none-match"):
        version = await service.course_version(session, actor, course_id=course_id)
        if version is not None and none_match(request, etag := _course_etag(version)):
            return not_modified(etag, public=public)
    course = await service.get_course(session, actor, course_id=course_id)
    set_cache_headers(response, _course_etag(service.card_version(course)), public=public)
    return course


@router.put("/{course_id}", response_model=CourseRead, responses={**MANAGE, **R409})
async def replace_course(
    course_id: CourseId, body: CourseReplace, session: SessionDep, actor: CurrentUser
) -> Any:
    """Replace the course (its teacher or an admin). Another teacher or a student who can
    see the course gets 403; one who cannot, 404."""
    return await service.update_course(session, actor, course_id=course_id, data=body, replace=True)


@router.patch("/{course_id}", response_model=CourseRead, responses={**MANAGE, **R409})
async def update_course(
    course_id: CourseId, body: CourseUpdate, session: SessionDep, actor: CurrentUser
) -> Any:
    """Change the fields given (its teacher or an admin)."""
    return await service.update_course(
        session, actor, course_id=course_id, data=body, replace=False
    )


@router.delete("/{course_id}", status_code=status.HTTP_204_NO_CONTENT, responses=MANAGE)
async def delete_course(course_id: CourseId, session: SessionDep, actor: CurrentUser) -> Response:
    """Delete the course with its lessons, enrollments and progress."""
    await service.delete_course(session, actor, course_id=course_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# --- lessons ----------------------------------------------------------------------------


@router.get("/{course_id}/lessons", response_model=Page[LessonSummary], responses=R404)
async def list_lessons(
    request: Request,
    response: Response,
    course_id: CourseId,
    session: SessionDep,
    actor: OptionalUser,
    page: LessonPage,
) -> Any:
    """The course's lessons ordered by position, without content."""
    result = await service.list_lessons(session, actor, course_id=course_id, page=page)
    return page_response(request, response, result)


@router.post(
    "/{course_id}/lessons",
    response_model=LessonRead,
    status_code=status.HTTP_201_CREATED,
    responses=MANAGE,
)
async def create_lesson(
    course_id: CourseId, body: LessonCreate, session: SessionDep, actor: CurrentUser
) -> Any:
    """Add a lesson: appended without `position`, else inserted at 1..n+1 (later lessons
    move down). A position outside that range is a 422, never clamped."""
    return await service.create_lesson(session, actor, course_id=course_id, data=body)


@router.get(
    "/{course_id}/lessons/{lesson_id}",
    response_model=LessonRead,
    responses={
        **R404,
        401: {"description": "Sign in to read this lesson"},
        403: {"description": "Problem type `.../enrollment-required`: enroll first"},
    },
)
async def get_lesson(
    request: Request,
    response: Response,
    course_id: CourseId,
    lesson_id: LessonId,
    session: SessionDep,
    actor: OptionalUser,
) -> Any:
    """A lesson with its content: for the course's teacher, admins, enrolled students, and
    anyone who can see the course when the lesson is a preview. Its strong `ETag` changes
    with the lesson; `If-None-Match` with it answers 304 (after the access check)."""
    lesson = await service.get_readable_lesson(
        session, actor, lesson_id=lesson_id, course_id=course_id
    )
    etag, public = _lesson_etag(lesson), actor is None
    if none_match(request, etag):
        return not_modified(etag, public=public)
    set_cache_headers(response, etag, public=public)
    return lesson


@router.put("/{course_id}/lessons/{lesson_id}", response_model=LessonRead, responses=MANAGE)
async def replace_lesson(
    course_id: CourseId,
    lesson_id: LessonId,
    body: LessonReplace,
    session: SessionDep,
    actor: CurrentUser,
) -> Any:
    """Replace the lesson; a given `position` (1..n, else 422) moves it, positions stay
    1..n without gaps."""
    return await service.update_lesson(
        session, actor, course_id=course_id, lesson_id=lesson_id, data=body, replace=True
    )


@router.patch("/{course_id}/lessons/{lesson_id}", response_model=LessonRead, responses=MANAGE)
async def update_lesson(
    course_id: CourseId,
    lesson_id: LessonId,
    body: LessonUpdate,
    session: SessionDep,
    actor: CurrentUser,
) -> Any:
    """Change the fields given; `position` (1..n, else 422) moves the lesson."""
    return await service.update_lesson(
        session, actor, course_id=course_id, lesson_id=lesson_id, data=body, replace=False
    )


@router.delete(
    "/{course_id}/lessons/{lesson_id}", status_code=status.HTTP_204_NO_CONTENT, responses=MANAGE
)
async def delete_lesson(
    course_id: CourseId, lesson_id: LessonId, session: SessionDep, actor: CurrentUser
) -> Response:
    """Delete the lesson and its learners' completions; later lessons move up."""
    await service.delete_lesson(session, actor, course_id=course_id, lesson_id=lesson_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
