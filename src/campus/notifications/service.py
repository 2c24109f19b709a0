"""Notifications: create them (for other domains), list and read them.

Other domains call :func:`notify` (one user) or :func:`notify_course_students` (every
active student of a course, in ONE ``INSERT ... SELECT``, never a statement per student)
inside their unit of work. Each notification is stored there and, once the unit of work
has committed, sent as a ``notification`` frame to every socket of its user on every
instance (``campus.realtime.broadcast``).

A job that sends one notification calls :func:`notify_once` instead: the notification is
stored exactly once under the job's effect key, in one transaction with those of the other
jobs running at that moment in the process (``campus.jobs.batch``), and the frames of a
whole batch go out in one broadcast.

``title`` may be left out for the known kinds: it is then made from ``data`` with
:data:`TITLES` (e.g. ``{"course_title": ..., "lesson_title": ...}``); the pages show it in
the reader's language (:func:`format_title` of the translated template).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from campus.db import Database
from campus.errors import NotFound
from campus.jobs.batch import BatchedWrite
from campus.jobs.failures import claim_keys
from campus.kit.clock import utcnow
from campus.kit.i18n import N_
from campus.kit.pagination.envelope import PageResult
from campus.kit.pagination.params import PageParams
from campus.models.accounts import User
from campus.models.notifications import KIND_MAX, LINK_MAX, TITLE_MAX, Notification
from campus.notifications import repository
from campus.notifications.schemas import NotificationRead, NotificationRow
from campus.realtime.broadcast import (
    Broadcaster,
    broadcaster_of_database,
    publish_after_commit,
    user_channel,
)

if TYPE_CHECKING:
    from campus.jobs.context import JobContext

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


@dataclass(frozen=True, slots=True)
class _Once:
    effect: str
    job: str
    row: dict[str, Any]


async def notify_once(
    ctx: JobContext,
    *,
    effect: str,
    user_id: int,
    kind: str,
    data: Mapping[str, Any] | None = None,
    title: str | None = None,
    link: str | None = None,
) -> Notification | None:
    """From a job: store a notification for ``user_id`` unless the effect key ``effect``
    exists; return it once committed (None: an earlier run of the job stored it).

    The notification and its key are written together with those of the jobs running now
    in this process (one transaction, two statements), and delivered live after the commit.
    """
    _check(kind, link)
    details = dict(data or {})
    row = {
        "user_id": user_id,
        "kind": kind,
        "title": _title(kind, title, details),
        "link": link,
        "data": details,
        "created_at": utcnow(),
    }
    return await ctx.write_batched(ONCE, _Once(effect=effect, job=ctx.job, row=row))


async def _write_once(conn: AsyncConnection, items: Sequence[_Once]) -> list[Notification | None]:
    new = await claim_keys(conn, [(item.effect, item.job) for item in items])
    fresh: list[_Once] = []
    for item in items:
        if item.effect[:200] in new:
            new.discard(item.effect[:200])  # the same key twice in a batch: written once
            fresh.append(item)
    stored = await repository.insert_many(conn, [item.row for item in fresh])
    # RETURNING is unordered: give each job the stored row that has its values.
    by_values: dict[tuple[Any, ...], list[Notification]] = {}
    for n in stored:
        by_values.setdefault((n.user_id, n.kind, n.title, n.link), []).append(n)
    made: dict[int, Notification] = {}
    for item in fresh:
        row = item.row
        same = by_values[(row["user_id"], row["kind"], row["title"], row["link"])]
        pick = next((n for n in same if n.data == row["data"]), same[-1])
        same.remove(pick)
        made[id(item)] = pick
    return [made.get(id(item)) for item in items]


def _publish_once(database: Database, results: Sequence[Notification | None]) -> None:
    broadcaster = broadcaster_of_database(database)
    made = [n for n in results if n is not None]
    if broadcaster is None or not made:
        return
    kinds: dict[str, int] = {}
    for notification in made:
        kinds[notification.kind] = kinds.get(notification.kind, 0) + 1
    for kind, count in kinds.items():
        _counted(kind, count)(broadcaster)
    broadcaster.publish_soon([(user_channel(n.user_id), notification_frame(n)) for n in made])


ONCE: BatchedWrite[_Once, Notification | None] = BatchedWrite(
    name="notifications.once", write=_write_once, after_commit=_publish_once
)


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
) -> PageResult[NotificationRow]:
    return await repository.list_notifications(
        session, user_id=actor.id, unread=unread, params=params
    )


async def mark_read(session: AsyncSession, actor: User, *, notification_id: int) -> Notification:
    """Mark one of ``actor``'s notifications read (idempotent); another user's: 404."""
    notification = await repository.get_own(
        session, user_id=actor.id, notification_id=notification_id
    )
    if notification is None:
        raise NotFound(N_("Notification not found."))
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
