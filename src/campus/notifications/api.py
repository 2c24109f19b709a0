"""Notifications JSON API (API.md §7): the signed-in user's own notifications."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response, status

from campus.http.deps import IdPath, SessionDep, page_params, page_response
from campus.http.identity import CurrentUser
from campus.kit.pagination.envelope import Page
from campus.kit.pagination.params import PageParams
from campus.notifications import service
from campus.notifications.schemas import NotificationRead, UnreadCount

router = APIRouter(prefix="/notifications", tags=["notifications"])

NotificationId = Annotated[int, IdPath("Notification id")]
Pagination = Annotated[PageParams, Depends(page_params(service.SORTS, service.DEFAULT_SORT))]
RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "Not authenticated"},
    422: {"description": "Invalid input"},
}
OWNED: dict[int | str, dict[str, Any]] = {
    **RESPONSES,
    404: {"description": "No such notification, or another user's"},
}


@router.get("", response_model=Page[NotificationRead], responses=RESPONSES)
async def list_notifications(
    request: Request,
    response: Response,
    user: CurrentUser,
    session: SessionDep,
    params: Pagination,
    unread: Annotated[
        bool | None,
        Query(description="`true`: only unread ones; `false`: only read ones; absent: all."),
    ] = None,
) -> Any:
    """The caller's notifications, newest first. New ones also arrive live over the
    socket (`/api/v1/ws`) as `notification` frames."""
    page = await service.list_notifications(session, user, unread=unread, params=params)
    return page_response(request, response, page)


@router.get("/unread-count", response_model=UnreadCount, responses=RESPONSES)
async def unread_count(user: CurrentUser, session: SessionDep) -> Any:
    """How many of the caller's notifications are unread (the bell's number)."""
    return UnreadCount(unread_count=await service.unread_count(session, user))


@router.post("/read-all", status_code=status.HTTP_204_NO_CONTENT, responses=RESPONSES)
async def read_all(user: CurrentUser, session: SessionDep) -> None:
    """Mark every notification of the caller read."""
    await service.mark_all_read(session, user)


@router.post("/{notification_id}/read", response_model=NotificationRead, responses=OWNED)
async def read_notification(
    notification_id: NotificationId, user: CurrentUser, session: SessionDep
) -> Any:
    """Mark one notification read (idempotent: the first `read_at` is kept)."""
    return await service.mark_read(session, user, notification_id=notification_id)
