"""Media pages: ``/media/<key>`` (the files themselves) and the teacher's file manager of
a course, whose upload forms work without JavaScript (multipart + CSRF like every form).

The course and lesson editors (campus.courses.pages) show the same panel through
:func:`media_panel`; its forms post here and come back to the page they were sent from.
A refused upload is shown on the file manager with the reason beside the field (4xx),
and nothing is stored.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path, Response
from starlette.datastructures import FormData, UploadFile

from campus.config import Settings
from campus.courses import service as courses
from campus.errors import CampusError, NotFound, ValidationFailed
from campus.http.deps import IdPath, SessionDep, SettingsDep
from campus.http.identity import OptionalUser, TeacherUser
from campus.http.web import WebPage, page_params, page_router, safe_next
from campus.kit.i18n import N_
from campus.kit.i18n import gettext as _
from campus.media import files, service

router = page_router()

CourseId = Annotated[int, IdPath("Course id")]
MediaId = Annotated[int, IdPath("Media id")]
PANEL_SIZE = 100


@router.get("/media/{key}")
async def media_file(
    key: Annotated[str, Path(max_length=64)],
    session: SessionDep,
    settings: SettingsDep,
    user: OptionalUser,
) -> Response:
    """A file: no page state, so no cookie is ever set on a cached answer."""
    served = await service.serve(session, settings, user, key)
    headers = {
        "Cache-Control": served.cache_control,
        "X-Content-Type-Options": "nosniff",
        # A file is never a document that runs anything, whatever a browser guesses.
        "Content-Security-Policy": "default-src 'none'; sandbox",
        "Cross-Origin-Resource-Policy": "same-origin",
    }
    if served.disposition:
        headers["Content-Disposition"] = served.disposition
    return Response(served.data, media_type=served.content_type, headers=headers)


async def media_panel(
    session: SessionDep, settings: Settings, user: Any, course_id: int, *, back: str
) -> dict[str, Any]:
    """What the media panel (``media/_panel.html``) shows on a teacher's page."""
    result = await service.list_media(
        session, user, course_id=course_id, page=page_params(1, PANEL_SIZE, sort="-created_at")
    )
    return {
        "items": result.items,
        "total": result.total,
        "back": back,
        "accept": files.ACCEPT_ATTRIBUTE,
        "accepted": files.ACCEPTED,
        "max_upload": settings.media_max_upload_bytes,
    }


def _back(form: FormData, course_id: int) -> str:
    raw = form.get("back")
    fallback = f"/teach/courses/{course_id}/media"
    target = safe_next(raw if isinstance(raw, str) else None, fallback)
    base = f"/teach/courses/{course_id}"
    return target if target == base or target.startswith(base + "/") else fallback


async def _manager(
    page: WebPage,
    session: SessionDep,
    user: Any,
    course_id: int,
    *,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    course = await courses.get_managed_course(session, user, course_id=course_id)
    panel = await media_panel(
        session, page.settings, user, course_id, back=f"/teach/courses/{course_id}/media"
    )
    return page.render(
        "media/manage.html",
        {"course": course, "media": panel, "errors": errors or {}},
        status_code=status_code,
    )


async def _refused(
    page: WebPage, session: SessionDep, user: Any, course_id: int, field: str, exc: CampusError
) -> Response:
    """An upload refused: the files page again with the reason beside ``field`` (nothing
    was stored). Who may not manage the course gets the error itself."""
    if exc.status in (401, 403, 404):
        raise exc
    return await _manager(
        page, session, user, course_id, errors={field: exc.localized()}, status_code=exc.status
    )


async def _upload_part(page: WebPage, form: FormData, field: str) -> tuple[bytes, str | None]:
    part = form.get(field)
    if not isinstance(part, UploadFile) or not part.filename:
        raise _missing(field)
    limit = page.settings.media_max_upload_bytes
    data = await part.read(limit + 1)
    if len(data) > limit:
        raise service.too_large(page.settings)
    return data, part.filename


def _missing(field: str) -> ValidationFailed:
    return ValidationFailed.field(
        ["body", field],
        N_("Choose a file to upload.") if field == "file" else N_("Choose an image."),
    )


@router.get("/teach/courses/{course_id}/media")
async def media_manager_page(
    page: WebPage, session: SessionDep, course_id: CourseId, user: TeacherUser
) -> Response:
    return await _manager(page, session, user, course_id)


@router.post("/teach/courses/{course_id}/media")
async def upload_media_page(
    page: WebPage, session: SessionDep, course_id: CourseId, user: TeacherUser
) -> Response:
    form = await page.form()
    back = _back(form, course_id)
    try:
        data, filename = await _upload_part(page, form, "file")
        item = await service.upload(
            session, page.settings, user, course_id=course_id, data=data, filename=filename
        )
    except CampusError as exc:
        return await _refused(page, session, user, course_id, "file", exc)
    return page.redirect(f"{back}#media", flash=_("“%(name)s” uploaded.", name=item.filename))


@router.post("/teach/courses/{course_id}/media/{media_id}/delete")
async def delete_media_page(
    page: WebPage, session: SessionDep, course_id: CourseId, media_id: MediaId, user: TeacherUser
) -> Response:
    back = _back(await page.form(), course_id)
    await service.delete_media(session, user, course_id=course_id, media_id=media_id)
    return page.redirect(f"{back}#media", flash=_("File deleted."), kind="info")


@router.post("/teach/courses/{course_id}/cover")
async def upload_cover_page(
    page: WebPage, session: SessionDep, course_id: CourseId, user: TeacherUser
) -> Response:
    form = await page.form()
    back = _back(form, course_id)
    try:
        data, filename = await _upload_part(page, form, "cover")
        await service.upload_cover(
            session, page.settings, user, course_id=course_id, data=data, filename=filename
        )
    except CampusError as exc:
        return await _refused(page, session, user, course_id, "cover", exc)
    return page.redirect(f"{back}#cover", flash=_("Cover image set."))


@router.post("/teach/courses/{course_id}/cover/set")
async def set_cover_page(
    page: WebPage, session: SessionDep, course_id: CourseId, user: TeacherUser
) -> Response:
    form = await page.form()
    raw = form.get("media_id")
    if not isinstance(raw, str) or not raw.isdigit():
        raise NotFound(service.NOT_FOUND)
    await service.set_cover(session, user, course_id=course_id, media_id=int(raw))
    return page.redirect(f"{_back(form, course_id)}#cover", flash=_("Cover image set."))


@router.post("/teach/courses/{course_id}/cover/clear")
async def clear_cover_page(
    page: WebPage, session: SessionDep, course_id: CourseId, user: TeacherUser
) -> Response:
    form = await page.form()
    await service.set_cover(session, user, course_id=course_id, media_id=None)
    return page.redirect(
        f"{_back(form, course_id)}#cover", flash=_("Cover image removed."), kind="info"
    )
