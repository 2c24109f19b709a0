"""Learning pages: enroll, leave, mark a lesson complete or not, the learner's cabinet with
"continue where you left off" and the tasks due soon (API.md §10)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Response

from campus.certificates import service as certificates_service
from campus.courses import service as courses_service
from campus.errors import Forbidden, NotFound, PaymentRequired
from campus.http.deps import IdPath, SessionDep
from campus.http.identity import CurrentUser
from campus.http.web import WebPage, page_params, page_router
from campus.kit.clock import utcnow
from campus.kit.i18n import gettext as _
from campus.learning import service
from campus.notifications import service as notifications_service
from campus.payments import service as payments_service
from campus.tasks import service as tasks_service

router = page_router()

CourseId = Annotated[int, IdPath("Course id")]
LessonId = Annotated[int, IdPath("Lesson id")]
CABINET_PAGE_SIZE = 50
CABINET_CERTIFICATES = 20


@router.post("/courses/{course_id}/enroll")
async def enroll_page(
    page: WebPage, session: SessionDep, course_id: CourseId, user: CurrentUser
) -> Response:
    try:
        result = await service.enroll_student(session, user, course_id=course_id)
    except PaymentRequired:
        return page.redirect(
            f"/courses/{course_id}",
            flash=_("This is a paid course: buy it with the button on the course page."),
            kind="error",
        )
    text = _("You are enrolled. Enjoy the course!") if result.created else _("You are enrolled.")
    return page.redirect(f"/courses/{course_id}", flash=text)


@router.get("/courses/{course_id}/leave")
async def leave_confirm_page(
    page: WebPage, session: SessionDep, course_id: CourseId, user: CurrentUser
) -> Response:
    """The confirmation step of leaving a course (a page, so it works without JavaScript):
    what is kept, and for a bought course that leaving is not a refund."""
    course = await courses_service.get_course(session, user, course_id=course_id)
    try:
        progress = await service.get_progress(session, user, course_id=course_id)
    except (Forbidden, NotFound):
        return page.redirect(
            f"/courses/{course_id}", flash=_("You are not enrolled in this course."), kind="info"
        )
    paid = await payments_service.has_paid_for(session, user_id=user.id, course_id=course_id)
    return page.render(
        "learning/leave.html", {"course": course, "progress": progress, "paid": paid}
    )


@router.post("/courses/{course_id}/leave")
async def leave_page(
    page: WebPage, session: SessionDep, course_id: CourseId, user: CurrentUser
) -> Response:
    try:
        await service.unenroll_student(session, user, course_id=course_id)
    except NotFound:
        return page.redirect(
            f"/courses/{course_id}", flash=_("You are not enrolled in this course."), kind="info"
        )
    paid = await payments_service.has_paid_for(session, user_id=user.id, course_id=course_id)
    text = (
        _(
            "You left the course. Your completed lessons are kept if you rejoin without paying"
            " again."
        )
        if paid
        else _("You left the course. Your completed lessons are kept if you enroll again.")
    )
    return page.redirect(
        "/cabinet",
        flash=text,
        kind="info",
    )


@router.post("/courses/{course_id}/lessons/{lesson_id}/uncomplete")
async def uncomplete_lesson_page(
    page: WebPage, session: SessionDep, course_id: CourseId, lesson_id: LessonId, user: CurrentUser
) -> Response:
    progress = await service.uncomplete_lesson(
        session, user, course_id=course_id, lesson_id=lesson_id
    )
    return page.redirect(
        f"/courses/{course_id}/lessons/{lesson_id}",
        flash=_(
            "Marked as not completed: %(done)s of %(total)s done (%(percent)s%%).",
            done=progress.completed_lessons,
            total=progress.total_lessons,
            percent=progress.percent,
        ),
        kind="info",
    )


@router.post("/courses/{course_id}/lessons/{lesson_id}/complete")
async def complete_lesson_page(
    page: WebPage, session: SessionDep, course_id: CourseId, lesson_id: LessonId, user: CurrentUser
) -> Response:
    form = await page.form()
    progress = await service.complete_lesson(
        session, user, course_id=course_id, lesson_id=lesson_id
    )
    target = form.get("next")
    url = (
        target
        if isinstance(target, str) and target.startswith(f"/courses/{course_id}/")
        else (f"/courses/{course_id}/lessons/{lesson_id}")
    )
    done = progress.completed_lessons
    total = progress.total_lessons
    text = (
        _("Course complete — well done!")
        if total and done == total
        else _(
            "Lesson complete: %(done)s of %(total)s done (%(percent)s%%).",
            done=done,
            total=total,
            percent=progress.percent,
        )
    )
    return page.redirect(url, flash=text)


@router.get("/cabinet")
async def cabinet_page(
    page: WebPage,
    session: SessionDep,
    user: CurrentUser,
    p: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> Response:
    result = await service.list_my_courses(
        session, user, params=page_params(p, CABINET_PAGE_SIZE, sort="-enrolled_at")
    )
    continue_at = await service.continue_lessons(
        session, user, course_ids=[row.course.id for row in result.items]
    )
    due_soon = await tasks_service.list_tasks_due_soon(session, user)
    notifications = await notifications_service.latest(session, user, limit=5)
    certificates = await certificates_service.my_certificates(
        session, page.settings, user, limit=CABINET_CERTIFICATES
    )
    return page.render(
        "learning/cabinet.html",
        {
            "rows": result.items,
            "continue_at": continue_at,
            "total": result.total,
            "due_soon": due_soon,
            "due_days": tasks_service.DUE_SOON_DAYS,
            "notifications": notifications,
            "certificates": certificates,
            "now": utcnow(),
        },
    )
