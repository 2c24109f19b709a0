"""Notifications: create them (for other domains), list and read them.

Other domains call :func:`notify` (one user) or :func:`notify_course_students` (every
active student of a course, in ONE ``INSERT ... SELECT``, never a statement per student)
inside their unit of work. Each notification is stored there and, once the unit of work
has committed, sent as a ``notification`` frame to every socket of its user on every
instance (``campus.realtime.broadcast``).

``title`` may be left out for the known kinds: it is then made from ``data`` with
:data:`TITLES` (e.g. ``{"course_title": ..., "lesson_title": ...}``); the pages show it in
the reader's language (:func:`format_title` of the translated template).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from campus.errors import NotFound
from campus.kit.clock import utcnow
from campus.kit.i18n import N_
from campus.kit.pagination.envelope import PageResult
from campus.kit.pagination.params import PageParams
from campus.models.accounts import User
from campus.models.notifications import KIND_MAX, LINK_MAX, TITLE_MAX, Notification
from campus.notifications import repository
from campus.notifications.schemas import NotificationRead
from campus.realtime.broadcast import Broadcaster, publish_after_commit, user_channel

SORTS = ("created_at",)
DEFAULT_SORT = "-created_at"

STUDENT_JOINED = "course.student_joined"
LESSON_PUBLISHED = "lesson.published"
PAYMENT_SUCCEEDED = "payment.succeeded"
PAYMENT_FAILED = "payment.failed"
PAYMENT_REFUNDED = "payment.refunded"
TASK_DUE_SOON = "task.due_soon"

# The titles of the known kinds, filled from ``data`` (marked for the catalog: the pages
# show a notification's title in the reader's language, see :func:`format_title`).
TITLES: Mapping[str, str] = {
    STUDENT_JOINED: N_("%(student_name)s joined %(course_title)s"),
    LESSON_PUBLISHED: N_("New lesson in %(course_title)s: %(lesson_title)s"),
    PAYMENT_SUCCEEDED: N_("Payment received for %(course_title)s"),
    PAYMENT_FAILED: N_("Payment for %(course_title)s did not go through"),
    PAYMENT_REFUNDED: N_("Payment for %(course_title)s was refunded"),
    TASK_DUE_SOON: N_("Task due soon: %(task_title)s"),
}
_KIND = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+")


class _Blank(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "…"


def format_title(template: str, data: Mapping[str, Any]) -> str:
    """``template`` (one of :data:`TITLES`, maybe translated) filled from ``data``, on one
    line of at most ``TITLE_MAX`` characters."""
    title = " ".join((template % _Blank(data)).split())
    return title if len(title) <= TITLE_MAX else title[: TITLE_MAX - 1] + "…"


def _title(kind: str, title: str | None, data: Mapping[str, Any]) -> str:
    if title is None:
        template = TITLES.get(kind)
        if template is None:
            raise ValueError(f"notification kind {kind!r} needs a title")
        return format_title(template, data)
    title = " ".join(title.split())
    return title if len(title) <= TITLE_MAX else title[: TITLE_MAX - 1] + "…"


def _check(kind: str, link: str | None) -> None:
    if len(kind) > KIND_MAX or not _KIND.fullmatch(kind):
        raise ValueError(f"not a notification kind: {kind!r}")
    if link is not None and (len(link) > LINK_MAX or not link.startswith("/")):
        raise ValueError("a notification link is a local path")


def notification_frame(notification: Notification) -> str:
    payload = {
        "type": "notification",
        "notification": NotificationRead.model_validate(notification).model_dump(mode="json"),
    }
    return orjson.dumps(payload).decode()


def _counted(kind: str, count: int) -> Any:
    def count_them(broadcaster: Broadcaster) -> None:
        if broadcaster.metrics is not None:
            broadcaster.metrics.notifications.labels(kind).inc(count)

    return count_them


async def notify(
    session: AsyncSession,
    *,
    user_id: int,
    kind: str,
    data: Mapping[str, Any] | None = None,
    title: str | None = None,
    link: str | None = None,
) -> Notification:
    """Store a notification for ``user_id``; delivered live after the commit."""
    _check(kind, link)
    details = dict(data or {})
    notification = Notification(
        user_id=user_id,
        kind=kind,
        title=_title(kind, title, details),
        link=link,
        data=details,
        created_at=utcnow(),
    )
    session.add(notification)
    await session.flush()
    publish_after_commit(
        session,
        [(user_channel(user_id), notification_frame(notification))],
        on_published=_counted(kind, 1),
    )
    return notification


async def notify_course_students(
    session: AsyncSession,
    *,
    course_id: int,
    kind: str,
    data: Mapping[str, Any] | None = None,
    title: str | None = None,
    link: str | None = None,
    exclude_user_id: int | None = None,
) -> int:
    """Notify every active student of ``course_id`` in one statement; returns how many."""
    _check(kind, link)
    details = dict(data or {})
    text = _title(kind, title, details)
    now = utcnow()
    made = await repository.insert_for_course_students(
        session,
        course_id=course_id,
        kind=kind,
        title=text,
        link=link,
        data=details,
        now=now,
        exclude_user_id=exclude_user_id,
    )
    if made:
        frames = []
        for notification_id, user_id in made:
            row = Notification(
                id=notification_id,
                user_id=user_id,
                kind=kind,
                title=text,
                link=link,
                data=details,
                created_at=now,
                read_at=None,
            )
            frames.append((user_channel(user_id), notification_frame(row)))
        publish_after_commit(session, frames, on_published=_counted(kind, len(made)))
    return len(made)


async def list_notifications(
    session: AsyncSession, actor: User, *, unread: bool | None, params: PageParams
) -> PageResult[Notification]:
    return await repository.list_notifications(
        session, user_id=actor.id, unread=unread, params=params
    )


async def mark_read(session: AsyncSession, actor: User, *, notification_id: int) -> Notification:
    """Mark one of ``actor``'s notifications read (idempotent); another user's: 404."""
    notification = await repository.get_own(
        session, user_id=actor.id, notification_id=notification_id
    )
    if notification is None:
        raise NotFound("Notification not found.")
    if notification.read_at is None:
        notification.read_at = utcnow()
        await session.flush()
    return notification


async def mark_all_read(session: AsyncSession, actor: User) -> int:
    return await repository.mark_all_read(session, user_id=actor.id, now=utcnow())


async def unread_count(session: AsyncSession, actor: User) -> int:
    return await repository.unread_count(session, user_id=actor.id)


async def latest(session: AsyncSession, actor: User, *, limit: int = 5) -> list[Notification]:
    return await repository.latest(session, user_id=actor.id, limit=limit)
