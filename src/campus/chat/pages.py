"""Course chat page (API.md §10): ``/courses/{id}/chat`` — history with "load older", a
post form that works without JavaScript, live updates by ``static/realtime.js``."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Response
from pydantic import ValidationError

from campus.chat import service
from campus.chat.schemas import MESSAGE_BODY_MAX, MessageCreate
from campus.courses import service as course_service
from campus.errors import CampusError
from campus.http.deps import IdPath, SessionDep, cursor_codec
from campus.http.forms import field_errors, form_values
from campus.http.identity import CurrentUser
from campus.http.web import WebPage, page_router
from campus.kit.i18n import gettext as _

router = page_router()

CourseId = Annotated[int, IdPath("Course id")]
PAGE_SIZE = 30


async def _render(
    page: WebPage,
    session: SessionDep,
    user: CurrentUser,
    course_id: int,
    *,
    cursor: str | None = None,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    params = page.keyset_params(PAGE_SIZE, sort=service.DEFAULT_SORT, cursor=cursor)
    result = await service.list_messages(session, user, course_id=course_id, params=params)
    course = await course_service.get_course(session, user, course_id=course_id)
    return page.render(
        "chat/chat.html",
        {
            "course": course,
            "messages": list(reversed(result.items)),  # oldest at the top, as chats read
            "total": result.total,
            "older": cursor_codec(page.request).encode(result.next_keyset)
            if result.next_keyset
            else None,
            "is_older_page": cursor is not None,
            "can_moderate": course_service.can_manage(user, course),
            "values": values or {},
            "errors": errors or {},
            "body_max": MESSAGE_BODY_MAX,
        },
        status_code=status_code,
    )


@router.get("/courses/{course_id}/chat")
async def chat_page(
    page: WebPage,
    session: SessionDep,
    user: CurrentUser,
    course_id: CourseId,
    cursor: Annotated[str | None, Query(max_length=2000)] = None,
) -> Response:
    return await _render(page, session, user, course_id, cursor=cursor)


@router.post("/courses/{course_id}/chat")
async def post_chat_page(
    page: WebPage, session: SessionDep, user: CurrentUser, course_id: CourseId
) -> Response:
    values = form_values(await page.form(), "body")
    try:
        data = MessageCreate(body=values["body"])
    except ValidationError as exc:
        # The field is called "body", which field_errors reads as the request body itself.
        message = next(iter(field_errors(exc).values()), _("This message is not valid."))
        return await _render(
            page, session, user, course_id, values=values, errors={"body": message}, status_code=422
        )
    await service.post_message(session, user, course_id=course_id, body=data.body)
    return page.redirect(f"/courses/{course_id}/chat#latest")


@router.post("/courses/{course_id}/chat/{message_id}/delete")
async def delete_chat_message_page(
    page: WebPage,
    session: SessionDep,
    user: CurrentUser,
    course_id: CourseId,
    message_id: Annotated[int, IdPath("Message id")],
) -> Response:
    try:
        await service.delete_message(
            session, page.settings, user, course_id=course_id, message_id=message_id
        )
    except CampusError as exc:
        if exc.status != 403:
            raise
        return page.redirect(f"/courses/{course_id}/chat", flash=exc.localized(), kind="error")
    return page.redirect(f"/courses/{course_id}/chat", flash=_("Message deleted."))
