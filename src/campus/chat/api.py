"""Course chat JSON API (API.md §7)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response, status

from campus.chat import service
from campus.chat.schemas import MessageCreate, MessageRead, MessageUpdate
from campus.http.deps import IdPath, SessionDep, SettingsDep, page_params, page_response
from campus.http.identity import CurrentUser
from campus.kit.pagination.envelope import Page
from campus.kit.pagination.params import PageParams

router = APIRouter(tags=["chat"])

CourseId = Annotated[int, IdPath("Course id")]
MessageId = Annotated[int, IdPath("Message id")]
Pagination = Annotated[PageParams, Depends(page_params(service.SORTS, service.DEFAULT_SORT))]
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Not authenticated"},
    403: {
        "description": (
            "Not the course's teacher, an admin or an enrolled student (`enrollment-required`)"
        )
    },
    404: {"description": "No such course (or not visible to you), or no such message"},
    422: {"description": "Invalid input"},
}
CHANGE_ERRORS: dict[int | str, dict[str, Any]] = {
    **ERRORS,
    403: {
        "description": (
            "Not allowed: another user's message, or the edit window (15 minutes by "
            "default, `edit-window-closed`) has passed"
        )
    },
}


@router.get("/courses/{course_id}/messages", response_model=Page[MessageRead], responses=ERRORS)
async def list_messages(
    request: Request,
    response: Response,
    course_id: CourseId,
    user: CurrentUser,
    session: SessionDep,
    params: Pagination,
) -> Any:
    """The course's chat, newest first (`-created_at`, ties by id).

    For the course's teacher, admins and actively enrolled students. Older messages: pass
    the page's `next_cursor` as `cursor` ("load older")."""
    page = await service.list_messages(session, user, course_id=course_id, params=params)
    return page_response(request, response, page)


@router.post(
    "/courses/{course_id}/messages",
    response_model=MessageRead,
    status_code=status.HTTP_201_CREATED,
    responses=ERRORS,
)
async def post_message(
    course_id: CourseId, body: MessageCreate, user: CurrentUser, session: SessionDep
) -> Any:
    """Post to the course's chat. The message is stored, then sent to every socket
    subscribed to the course (on every instance) as a `chat.message` frame."""
    return await service.post_message(session, user, course_id=course_id, body=body.body)


@router.patch(
    "/courses/{course_id}/messages/{message_id}",
    response_model=MessageRead,
    responses=CHANGE_ERRORS,
)
async def edit_message(
    course_id: CourseId,
    message_id: MessageId,
    body: MessageUpdate,
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
) -> Any:
    """Edit one's own message, within `CAMPUS_CHAT_EDIT_WINDOW_MINUTES` (default 15) of
    posting it. Nobody edits another user's message. Subscribers get `chat.message_edited`."""
    return await service.edit_message(
        session, settings, user, course_id=course_id, message_id=message_id, body=body.body
    )


@router.delete(
    "/courses/{course_id}/messages/{message_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=CHANGE_ERRORS,
)
async def delete_message(
    course_id: CourseId,
    message_id: MessageId,
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
) -> None:
    """Delete a message: its author within the edit window (default 15 minutes), the
    course's teacher or an admin at any time. Subscribers get `chat.message_deleted`."""
    await service.delete_message(
        session, settings, user, course_id=course_id, message_id=message_id
    )
