"""The notifications page (API.md §10): ``/notifications``, read one, read all."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query, Response
from sqlalchemy.ext.asyncio import AsyncSession

from campus.http.deps import IdPath, SessionDep, cursor_codec
from campus.http.identity import CurrentUser
from campus.http.web import WebPage, page_router, safe_next
from campus.kit.i18n import gettext as _
from campus.notifications import service

router = page_router()


def note_title(notification: Any) -> str:
    """A notification's title in the page's language (a known kind's, from its data);
    otherwise the title it was stored with."""
    template = service.TITLES.get(notification.kind)
    if template is None or not isinstance(notification.data, dict):
        return str(notification.title)
    return service.format_title(_(template), notification.data)


async def header_context(session: AsyncSession, user: Any) -> dict[str, Any]:
    """The bell in the header of every page: the signed-in user's unread count (and how a
    page words a notification, ``notifications/_item.html``)."""
    return {"unread_count": await service.unread_count(session, user), "note_title": note_title}


PAGE_SIZE = 20


@router.get("/notifications")
async def notifications_page(
    page: WebPage,
    session: SessionDep,
    user: CurrentUser,
    unread: Annotated[bool, Query()] = False,
    cursor: Annotated[str | None, Query(max_length=2000)] = None,
) -> Response:
    params = page.keyset_params(PAGE_SIZE, sort=service.DEFAULT_SORT, cursor=cursor)
    result = await service.list_notifications(
        session, user, unread=True if unread else None, params=params
    )
    return page.render(
        "notifications/list.html",
        {
            "items": result.items,
            "total": result.total,
            "older": cursor_codec(page.request).encode(result.next_keyset)
            if result.next_keyset
            else None,
            "unread_only": unread,
        },
    )


@router.post("/notifications/{notification_id}/read")
async def read_notification_page(
    page: WebPage,
    session: SessionDep,
    user: CurrentUser,
    notification_id: Annotated[int, IdPath("Notification id")],
) -> Response:
    notification = await service.mark_read(session, user, notification_id=notification_id)
    form = await page.form()
    go = form.get("go")
    if go == "link" and notification.link:
        return page.redirect(safe_next(notification.link, "/notifications"))
    return page.redirect("/notifications")


@router.post("/notifications/read-all")
async def read_all_page(page: WebPage, session: SessionDep, user: CurrentUser) -> Response:
    await service.mark_all_read(session, user)
    return page.redirect("/notifications", flash=_("All notifications marked read."))
