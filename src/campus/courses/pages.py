"""Course pages: the catalog, a course, a lesson, and the teacher's editor (API.md §10)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path, Query, Request, Response
from fastapi.responses import JSONResponse
from markupsafe import Markup
from pydantic import ValidationError

from campus.assessments import service as assessments_service
from campus.courses import service
from campus.courses.schemas import (
    CourseCreate,
    CourseFilters,
    CourseLevel,
    CourseUpdate,
    LessonCreate,
    LessonUpdate,
)
from campus.errors import CampusError, Forbidden, NotFound, Unauthenticated, ValidationFailed
from campus.http.deps import MAX_ID, IdPath, SessionDep
from campus.http.forms import (
    FormInvalid,
    choice,
    field_errors,
    form_values,
    money_text,
    parse_form,
    parse_money,
)
from campus.http.identity import OptionalUser, TeacherUser
from campus.http.ratelimit import RateLimiterDep
from campus.http.web import WebPage, page_params, page_router
from campus.kit import highlight, markdown
from campus.kit.i18n import N_, labelled
from campus.kit.i18n import gettext as _
from campus.learning import service as learning_service
from campus.media.pages import media_panel
from campus.payments import service as payments_service

router = page_router()

CATALOG_PAGE_SIZE = 12
MAX_LESSONS_SHOWN = 100
# The labels are marked here and translated where a page shows them (``labelled``); the
# templates translate a course's level the same way: ``_(course.level.value | title)``.
LEVELS = [
    (CourseLevel.BEGINNER.value, N_("Beginner")),
    (CourseLevel.INTERMEDIATE.value, N_("Intermediate")),
    (CourseLevel.ADVANCED.value, N_("Advanced")),
]
PRICES = [("free", N_("Free")), ("paid", N_("Paid"))]
CourseId = Annotated[int, IdPath("Course id")]
LessonId = Annotated[int, IdPath("Lesson id")]


async def _progress(session: SessionDep, user: Any, course: Any) -> Any:
    """The signed-in learner's progress in ``course``, or None when not enrolled."""
    if user is None or not course.is_published:
        return None
    try:
        return await learning_service.get_progress(session, user, course_id=course.id)
    except (Forbidden, NotFound):
        return None


async def _completed_ids(
    session: SessionDep, user: Any, course: Any, progress: Any
) -> frozenset[int]:
    """The lessons the signed-in learner has completed (shown with ✓); none if not enrolled."""
    if progress is None:
        return frozenset()
    return await learning_service.completed_lesson_ids(session, user, course_id=course.id)


async def _lessons(session: SessionDep, actor: Any, course_id: int) -> list[Any]:
    result = await service.list_lessons(
        session, actor, course_id=course_id, page=page_params(1, MAX_LESSONS_SHOWN, sort="position")
    )
    return list(result.items)


# --- the stylesheet of highlighted code ---------------------------------------------------


@router.get("/assets/highlight-{digest}.css")
async def code_stylesheet(
    request: Request, digest: Annotated[str, Path(max_length=64)]
) -> Response:
    """The CSS of highlighted code (generated from Pygments styles, ``campus.kit.highlight``).
    Its address names the digest of its content, so that address is cached for good; an
    old page's address gets the current CSS, revalidated every time."""
    current = highlight.stylesheet_digest()
    headers = {
        "ETag": f'"{current}"',
        "Cache-Control": "public, max-age=31536000, immutable" if digest == current else "no-cache",
    }
    if request.headers.get("if-none-match") == headers["ETag"]:
        return Response(status_code=304, headers=headers)
    return Response(highlight.stylesheet(), media_type="text/css; charset=utf-8", headers=headers)


# --- catalog --------------------------------------------------------------------------------


@router.get("/")
async def catalog_page(
    page: WebPage,
    session: SessionDep,
    q: Annotated[str | None, Query(max_length=200)] = None,
    level: Annotated[str | None, Query(max_length=20)] = None,
    price: Annotated[str | None, Query(max_length=10)] = None,
    p: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> Response:
    # An unknown filter value (an old link, a typo) is ignored, not an error page.
    chosen_level = choice(level, (value for value, _ in LEVELS))
    chosen_price = choice(price, (value for value, _ in PRICES))
    filters = CourseFilters(
        q=(q or "").strip() or None,
        level=CourseLevel(chosen_level) if chosen_level else None,
        is_free={"free": True, "paid": False}.get(chosen_price or ""),
    )
    result = await service.list_courses(
        session,
        page.user,
        filters=filters,
        page=page_params(p, CATALOG_PAGE_SIZE, sort="-created_at"),
    )
    values = {"q": (q or "").strip(), "level": chosen_level, "price": chosen_price}
    return page.render(
        "courses/catalog.html",
        {
            "courses": result.items,
            "total": result.total,
            "page_number": p,
            "pages": max(1, result.pages),
            "values": values,
            "levels": labelled(LEVELS),
            "prices": labelled(PRICES),
            "filtered": any(values.values()),
        },
    )


# --- a course and its lessons ---------------------------------------------------------------


@router.get("/courses/{course_id}")
async def course_page(
    page: WebPage, session: SessionDep, course_id: CourseId, user: OptionalUser
) -> Response:
    course = await service.get_course(session, user, course_id=course_id)
    lessons = await _lessons(session, user, course_id)
    progress = await _progress(session, user, course)
    continue_at = None
    if progress is not None and user is not None:
        found = await learning_service.continue_lessons(session, user, course_ids=[course.id])
        continue_at = found.get(course.id)
    # A buyer who left comes back without paying again (learning.enroll_student).
    purchased = (
        user is not None
        and progress is None
        and course.price_cents > 0
        and await payments_service.has_paid_for(session, user_id=user.id, course_id=course.id)
    )
    await markdown.render_html(course.description)  # cached; else off the loop, bounded
    return page.render(
        "courses/course.html",
        {
            "course": course,
            "progress": progress,
            "completed_ids": await _completed_ids(session, user, course, progress),
            "enrolled": progress is not None,
            "continue_at": continue_at,
            "purchased": purchased,
            "can_enroll": user is not None and course.is_published,
            "payments_enabled": payments_service.payments_configured(page.settings),
            "lessons": lessons,
            "can_manage": service.can_manage(user, course),
            "total_minutes": sum(lesson.duration_minutes or 0 for lesson in lessons),
        },
    )


@router.get("/courses/{course_id}/lessons/{lesson_id}")
async def lesson_page(
    page: WebPage,
    session: SessionDep,
    course_id: CourseId,
    lesson_id: LessonId,
    user: OptionalUser,
) -> Response:
    course = await service.get_course(session, user, course_id=course_id)
    lessons = await _lessons(session, user, course_id)
    index = next((i for i, item in enumerate(lessons) if item.id == lesson_id), None)
    progress = await _progress(session, user, course)
    context: dict[str, Any] = {
        "course": course,
        "lessons": lessons,
        "summary": lessons[index] if index is not None else None,
        "previous": lessons[index - 1] if index else None,
        "next": lessons[index + 1] if index is not None and index + 1 < len(lessons) else None,
        "can_manage": service.can_manage(user, course),
        "progress": progress,
        "completed_ids": await _completed_ids(session, user, course, progress),
    }
    try:
        lesson = await service.get_readable_lesson(
            session, user, lesson_id=lesson_id, course_id=course_id
        )
    except (Unauthenticated, Forbidden) as exc:
        # Locked: a prompt to sign in or enroll, never the content.
        locked = "sign-in" if isinstance(exc, Unauthenticated) else "enroll"
        return page.render(
            "courses/lesson_locked.html",
            {**context, "locked": locked, "detail": exc.localized()},
            status_code=403,
        )
    quiz_id = await assessments_service.find_lesson_quiz_id(session, lesson_id=lesson.id)
    await markdown.render_html(lesson.content)  # cached; else off the loop, bounded
    return page.render("courses/lesson.html", {**context, "lesson": lesson, "quiz_id": quiz_id})


# --- the teacher's editor -------------------------------------------------------------------


COURSE_FIELDS = ("title", "description", "level", "price", "currency", "is_published")
LESSON_FIELDS = ("title", "summary", "content", "duration_minutes", "is_preview", "position")


def _parse_course(
    schema: type[CourseCreate] | type[CourseUpdate], values: dict[str, str], published: bool
) -> Any:
    """A course form as the API's schema; the price is typed as money (``19.99``)."""
    price_cents, price_error = parse_money(values["price"])
    data = {
        "title": values["title"],
        "description": values["description"],
        "level": values["level"],
        "currency": values["currency"].strip() or "USD",
        "is_published": published,
        "price_cents": price_cents,
    }
    try:
        return parse_form(schema, data, extra_errors={"price": price_error} if price_error else {})
    except FormInvalid as exc:
        raise FormInvalid(_course_errors(exc.errors)) from None


def _course_errors(errors: dict[str, str], exc: CampusError | None = None) -> dict[str, str]:
    if "price_cents" in errors:
        errors["price"] = errors.pop("price_cents")
    if exc is not None and exc.code == "slug-taken":
        errors["title"] = _("A course with this title already exists; choose another title.")
    return errors


def _form_failure(exc: FormInvalid | CampusError) -> FormInvalid:
    if isinstance(exc, FormInvalid):
        return exc
    return FormInvalid(_course_errors(field_errors(exc), exc), status=exc.status)


def _course_form_values(course: Any) -> dict[str, Any]:
    return {
        "title": course.title,
        "description": course.description,
        "level": course.level.value,
        "price": money_text(course.price_cents),
        "currency": course.currency,
        "is_published": course.is_published,
    }


@router.get("/teach")
async def teach_page(page: WebPage, session: SessionDep, user: TeacherUser) -> Response:
    result = await service.list_managed_courses(
        session, user, page=page_params(1, 100, sort="-created_at")
    )
    sales = await payments_service.sales_by_course(
        session, user, course_ids=[course.id for course in result.items]
    )
    return page.render(
        "courses/teach.html", {"courses": result.items, "total": result.total, "sales": sales}
    )


@router.get("/teach/courses/new")
async def new_course_page(page: WebPage, user: TeacherUser) -> Response:
    values = {"level": "beginner", "price": "0", "currency": "USD"}
    return page.render(
        "courses/course_form.html", {"values": values, "errors": {}, "levels": labelled(LEVELS)}
    )


@router.post("/teach/courses/new")
async def create_course_page(page: WebPage, session: SessionDep, user: TeacherUser) -> Response:
    form = await page.form()
    values = form_values(form, *COURSE_FIELDS)
    published = values["is_published"] == "on"
    try:
        data = _parse_course(CourseCreate, values, published)
        course = await service.create_course(session, user, data=data)
    except (FormInvalid, CampusError) as exc:
        failure = _form_failure(exc)
        return page.render(
            "courses/course_form.html",
            {
                "values": {**values, "is_published": published},
                "errors": failure.errors,
                "levels": labelled(LEVELS),
            },
            status_code=failure.status,
        )
    return page.redirect(
        f"/teach/courses/{course.id}", flash=_("Course “%(title)s” created.", title=course.title)
    )


@router.get("/teach/courses/{course_id}")
async def edit_course_page(
    page: WebPage, session: SessionDep, course_id: CourseId, user: TeacherUser
) -> Response:
    course = await service.get_managed_course(session, user, course_id=course_id)
    lessons = await _lessons(session, user, course_id)
    return page.render(
        "courses/course_edit.html",
        {
            "course": course,
            "lessons": lessons,
            "values": _course_form_values(course),
            "errors": {},
            "levels": labelled(LEVELS),
            "media": await _course_media(page, session, user, course_id),
        },
    )


async def _course_media(page: WebPage, session: SessionDep, user: Any, course_id: int) -> Any:
    """The editor's panel of the course's files (campus.media)."""
    return await media_panel(
        session, page.settings, user, course_id, back=f"/teach/courses/{course_id}"
    )


@router.post("/teach/courses/{course_id}")
async def update_course_page(
    page: WebPage, session: SessionDep, course_id: CourseId, user: TeacherUser
) -> Response:
    form = await page.form()
    values = form_values(form, *COURSE_FIELDS)
    published = values["is_published"] == "on"
    try:
        data = _parse_course(CourseUpdate, values, published)
        course = await service.update_course(
            session, user, course_id=course_id, data=data, replace=False
        )
    except (FormInvalid, ValidationFailed) as exc:
        failure = _form_failure(exc)
        course = await service.get_managed_course(session, user, course_id=course_id)
        return page.render(
            "courses/course_edit.html",
            {
                "course": course,
                "lessons": await _lessons(session, user, course_id),
                "values": {**values, "is_published": published},
                "errors": failure.errors,
                "levels": labelled(LEVELS),
                "media": await _course_media(page, session, user, course_id),
            },
            status_code=failure.status,
        )
    return page.redirect(f"/teach/courses/{course.id}", flash=_("Course saved."))


@router.post("/teach/courses/{course_id}/publish")
async def publish_course_page(
    page: WebPage, session: SessionDep, course_id: CourseId, user: TeacherUser
) -> Response:
    form = await page.form()
    publish = form.get("publish") == "on"
    course = await service.update_course(
        session, user, course_id=course_id, data=CourseUpdate(is_published=publish), replace=False
    )
    text = (
        _("“%(title)s” is published: it is in the catalog now.", title=course.title)
        if publish
        else _("“%(title)s” is back to draft.", title=course.title)
    )
    return page.redirect(f"/teach/courses/{course.id}", flash=text)


@router.post("/teach/courses/{course_id}/delete")
async def delete_course_page(
    page: WebPage, session: SessionDep, course_id: CourseId, user: TeacherUser
) -> Response:
    await service.delete_course(session, user, course_id=course_id)
    return page.redirect("/teach", flash=_("Course deleted."), kind="info")


def _lesson_data(values: dict[str, str], *, with_position: bool) -> dict[str, Any]:
    data: dict[str, Any] = {
        "title": values["title"],
        "summary": values["summary"].strip() or None,
        "content": values["content"],
        "is_preview": values["is_preview"] == "on",
        "duration_minutes": values["duration_minutes"].strip() or None,
    }
    if with_position and values["position"].strip():
        data["position"] = values["position"].strip()
    return data


async def _lesson_form(
    page: WebPage,
    session: SessionDep,
    user: Any,
    course_id: int,
    *,
    lesson_id: int | None = None,
    values: dict[str, Any] | None = None,
    error: ValidationError | ValidationFailed | None = None,
    preview: str | None = None,
) -> Response:
    """The lesson editor: empty (new), filled from the lesson (edit), re-shown with the
    user's input and the errors beside their fields (422), or with the user's input and
    the preview of its content (the "Preview" button, no JavaScript needed)."""
    course = await service.get_managed_course(session, user, course_id=course_id)
    lesson = None
    if lesson_id is not None:
        lesson = await service.get_readable_lesson(
            session, user, lesson_id=lesson_id, course_id=course_id
        )
    if values is None:
        values = (
            {}
            if lesson is None
            else {
                "title": lesson.title,
                "summary": lesson.summary or "",
                "content": lesson.content,
                "duration_minutes": ""
                if lesson.duration_minutes is None
                else lesson.duration_minutes,
                "is_preview": lesson.is_preview,
                "position": lesson.position,
            }
        )
    errors = field_errors(error) if error is not None else {}
    back = f"/teach/courses/{course_id}/lessons/{lesson.id if lesson else 'new'}"
    media = await media_panel(session, page.settings, user, course_id, back=back)
    return page.render(
        "courses/lesson_form.html",
        {
            "course": course,
            "lesson": lesson,
            "values": values,
            "errors": errors,
            "media": media,
            # Sanitised by the one Markdown sanitiser (campus.kit.markdown), or escaped.
            "preview": None if preview is None else Markup(preview),  # noqa: S704
        },
        status_code=422 if error is not None else 200,
    )


PREVIEW_ACTION = "preview"


async def _preview(
    page: WebPage, session: SessionDep, limiter: Any, user: Any, course_id: int, text: str
) -> str:
    """The draft's HTML, counted against the teacher's preview limit."""
    await limiter.hit(page.settings.rate_limit_preview, "preview", f"user:{user.id}")
    return await service.preview_markdown(session, user, course_id=course_id, text=text)


@router.get("/teach/courses/{course_id}/lessons/new")
async def new_lesson_page(
    page: WebPage, session: SessionDep, course_id: CourseId, user: TeacherUser
) -> Response:
    return await _lesson_form(page, session, user, course_id)


@router.post("/teach/courses/{course_id}/preview")
async def preview_page(
    page: WebPage,
    session: SessionDep,
    course_id: CourseId,
    user: TeacherUser,
    limiter: RateLimiterDep,
) -> Response:
    """The live preview of the lesson editor (``lesson-editor.js``): the form field
    ``content`` as the lesson page would show it, an HTML fragment. CSRF-checked like every
    page form (the script sends the ``X-CSRF-Token`` header)."""
    form = await page.form()
    text = form_values(form, "content")["content"]
    html = await _preview(page, session, limiter, user, course_id, text)
    return Response(
        html, media_type="text/html; charset=utf-8", headers={"Cache-Control": "no-store"}
    )


@router.post("/teach/courses/{course_id}/lessons/new")
async def create_lesson_page(
    page: WebPage,
    session: SessionDep,
    course_id: CourseId,
    user: TeacherUser,
    limiter: RateLimiterDep,
) -> Response:
    form = await page.form()
    values = form_values(form, *LESSON_FIELDS)
    if form.get("action") == PREVIEW_ACTION:
        html = await _preview(page, session, limiter, user, course_id, values["content"])
        return await _lesson_form(page, session, user, course_id, values=values, preview=html)
    try:
        data = LessonCreate.model_validate(_lesson_data(values, with_position=True))
        lesson = await service.create_lesson(session, user, course_id=course_id, data=data)
    except (ValidationError, ValidationFailed) as exc:
        return await _lesson_form(page, session, user, course_id, values=values, error=exc)
    return page.redirect(
        f"/teach/courses/{course_id}", flash=_("Lesson “%(title)s” added.", title=lesson.title)
    )


@router.get("/teach/courses/{course_id}/lessons/{lesson_id}")
async def edit_lesson_page(
    page: WebPage,
    session: SessionDep,
    course_id: CourseId,
    lesson_id: LessonId,
    user: TeacherUser,
) -> Response:
    return await _lesson_form(page, session, user, course_id, lesson_id=lesson_id)


@router.post("/teach/courses/{course_id}/lessons/{lesson_id}")
async def update_lesson_page(
    page: WebPage,
    session: SessionDep,
    course_id: CourseId,
    lesson_id: LessonId,
    user: TeacherUser,
    limiter: RateLimiterDep,
) -> Response:
    form = await page.form()
    values = form_values(form, *LESSON_FIELDS)
    if form.get("action") == PREVIEW_ACTION:
        html = await _preview(page, session, limiter, user, course_id, values["content"])
        return await _lesson_form(
            page, session, user, course_id, lesson_id=lesson_id, values=values, preview=html
        )
    try:
        data = LessonUpdate.model_validate(_lesson_data(values, with_position=True))
        lesson = await service.update_lesson(
            session, user, course_id=course_id, lesson_id=lesson_id, data=data, replace=False
        )
    except (ValidationError, ValidationFailed) as exc:
        return await _lesson_form(
            page, session, user, course_id, lesson_id=lesson_id, values=values, error=exc
        )
    return page.redirect(
        f"/teach/courses/{course_id}", flash=_("Lesson “%(title)s” saved.", title=lesson.title)
    )


@router.post("/teach/courses/{course_id}/lessons/{lesson_id}/move")
async def move_lesson_page(
    page: WebPage,
    session: SessionDep,
    course_id: CourseId,
    lesson_id: LessonId,
    user: TeacherUser,
) -> Response:
    form = await page.form()
    raw = form.get("position")
    try:
        position = int(raw) if isinstance(raw, str) else 0
    except ValueError:
        position = 0
    if not 1 <= position <= MAX_ID:
        raise ValidationFailed.field(["position"], N_("Choose a place in the course."))
    lesson = await service.update_lesson(
        session,
        user,
        course_id=course_id,
        lesson_id=lesson_id,
        data=LessonUpdate(position=position),
        replace=False,
    )
    message = _("“%(title)s” is now lesson %(num)s.", title=lesson.title, num=lesson.position)
    if "application/json" in page.request.headers.get("accept", ""):
        # The drag-and-drop script (lesson-order.js): the same move, answered in place.
        return JSONResponse(
            {"id": lesson.id, "position": lesson.position, "message": message},
            headers={"Cache-Control": "no-store"},
        )
    return page.redirect(f"/teach/courses/{course_id}#lessons", flash=message)


@router.post("/teach/courses/{course_id}/lessons/{lesson_id}/delete")
async def delete_lesson_page(
    page: WebPage,
    session: SessionDep,
    course_id: CourseId,
    lesson_id: LessonId,
    user: TeacherUser,
) -> Response:
    await service.delete_lesson(session, user, course_id=course_id, lesson_id=lesson_id)
    return page.redirect(
        f"/teach/courses/{course_id}#lessons", flash=_("Lesson deleted."), kind="info"
    )
