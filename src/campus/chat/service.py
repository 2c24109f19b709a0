"""Course chat: who may read and write it, storing messages, and their live delivery.

Who takes part is the courses service's rule (``require_participation``): the course's
teacher, admins and actively enrolled students; a course one cannot see is a 404, one
seen but not taken part in a 403. Every message is stored and committed before it is
broadcast (``publish_after_commit``) to the sockets subscribed to the course.

Editing: the author may edit or delete their own message for ``CAMPUS_CHAT_EDIT_WINDOW_
MINUTES`` (default 15) after posting; the course's teacher and admins may delete any
message of the course at any time (moderation), but never edit someone else's words.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from campus.chat import repository
from campus.chat.schemas import MessageRead
from campus.config import Settings
from campus.courses import service as course_service
from campus.errors import Forbidden, NotFound
from campus.kit.clock import utcnow
from campus.kit.i18n import N_
from campus.kit.pagination.envelope import PageResult
from campus.kit.pagination.params import PageParams
from campus.models.accounts import User
from campus.models.chat import ChatMessage
from campus.realtime.broadcast import Broadcaster, course_channel, publish_after_commit

SORTS = ("created_at",)
DEFAULT_SORT = "-created_at"


@dataclass(frozen=True, slots=True)
class Author:
    id: int
    full_name: str


@dataclass(frozen=True, slots=True)
class MessageView:
    id: int
    course_id: int
    author: Author | None
    body: str
    created_at: datetime
    edited_at: datetime | None


def _view(message: ChatMessage, author_name: str | None) -> MessageView:
    return _row_view(
        (
            message.id,
            message.course_id,
            message.author_id,
            message.body,
            message.created_at,
            message.edited_at,
            author_name,
        )
    )


def _row_view(row: Sequence[Any]) -> MessageView:
    """A message as a row of ``repository.ROW_COLUMNS`` (its columns, then the author's
    name: null once the account is deleted, and then there is no author)."""
    message_id, course_id, author_id, body, created_at, edited_at, author_name = row
    author = (
        Author(author_id, author_name or "")
        if author_id is not None and author_name is not None
        else None
    )
    return MessageView(
        id=message_id,
        course_id=course_id,
        author=author,
        body=body,
        created_at=created_at,
        edited_at=edited_at,
    )


def message_frame(kind: str, view: MessageView) -> str:
    """The socket frame announcing ``view`` (``chat.message`` or ``chat.message_edited``)."""
    payload: dict[str, Any] = {
        "type": kind,
        "message": MessageRead.model_validate(view).model_dump(mode="json"),
    }
    return orjson.dumps(payload).decode()


async def ensure_participant(session: AsyncSession, actor: User, *, course_id: int) -> None:
    """Raise unless ``actor`` may read and write the course's chat (404 / 403)."""
    await course_service.require_participation(session, actor, course_id=course_id)


async def list_messages(
    session: AsyncSession, actor: User, *, course_id: int, params: PageParams
) -> PageResult[MessageView]:
    """The course's messages, newest first by default; keyset ``cursor`` for older ones."""
    await ensure_participant(session, actor, course_id=course_id)
    page = await repository.list_messages(session, course_id=course_id, params=params)
    page.items = [_row_view(row) for row in page.items]
    return page


def _count_message(broadcaster: Broadcaster) -> None:
    if broadcaster.metrics is not None:
        broadcaster.metrics.chat_messages.inc()


async def post_message(
    session: AsyncSession, actor: User, *, course_id: int, body: str
) -> MessageView:
    """Store a message by ``actor``; after the commit it goes to the course's subscribers."""
    await ensure_participant(session, actor, course_id=course_id)
    message = ChatMessage(course_id=course_id, author_id=actor.id, body=body, created_at=utcnow())
    session.add(message)
    await session.flush()
    view = _view(message, actor.full_name)
    publish_after_commit(
        session,
        [(course_channel(course_id), message_frame("chat.message", view))],
        on_published=_count_message,
    )
    return view


async def _own_or_moderated(
    session: AsyncSession,
    settings: Settings,
    actor: User,
    *,
    course_id: int,
    message_id: int,
    moderation: bool,
) -> tuple[ChatMessage, str | None]:
    taking_part = await course_service.require_participation(session, actor, course_id=course_id)
    found = await repository.get_message(session, course_id=course_id, message_id=message_id)
    if found is None:
        raise NotFound(N_("Message not found."))
    message, author_name = found
    if moderation and taking_part.manages:
        return message, author_name
    if message.author_id != actor.id:
        raise Forbidden(
            N_("Only the author may edit a message; the course's teacher and admins may delete it.")
        )
    window = timedelta(minutes=settings.chat_edit_window_minutes)
    if utcnow() - message.created_at > window:
        raise Forbidden(
            N_("A message can be changed for %(minutes)s minutes after it was posted."),
            code="edit-window-closed",
            variables={"minutes": settings.chat_edit_window_minutes},
        )
    return message, author_name


async def edit_message(
    session: AsyncSession,
    settings: Settings,
    actor: User,
    *,
    course_id: int,
    message_id: int,
    body: str,
) -> MessageView:
    message, author_name = await _own_or_moderated(
        session, settings, actor, course_id=course_id, message_id=message_id, moderation=False
    )
    message.body = body
    message.edited_at = utcnow()
    await session.flush()
    view = _view(message, author_name)
    publish_after_commit(
        session, [(course_channel(course_id), message_frame("chat.message_edited", view))]
    )
    return view


async def delete_message(
    session: AsyncSession, settings: Settings, actor: User, *, course_id: int, message_id: int
) -> None:
    message, _ = await _own_or_moderated(
        session, settings, actor, course_id=course_id, message_id=message_id, moderation=True
    )
    await repository.delete_message(session, message.id)
    session.expunge(message)
    frame = orjson.dumps(
        {"type": "chat.message_deleted", "course_id": course_id, "message_id": message_id}
    ).decode()
    publish_after_commit(session, [(course_channel(course_id), frame)])
