"""SQL for chat messages."""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import ColumnElement, bindparam, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from campus.kit.pagination.envelope import PageResult
from campus.kit.pagination.params import PageParams
from campus.kit.pagination.statements import AnySelect, ListQuery, fetch_page
from campus.models.accounts import User
from campus.models.chat import ChatMessage

SORT_COLUMNS: dict[str, ColumnElement[Any]] = {"created_at": ChatMessage.created_at.expression}
TIE_BREAKER: ColumnElement[int] = ChatMessage.id.expression


def list_query(course_id: int) -> ListQuery:
    """A course's messages with their author's name (ix_chat_messages_course_id_created_at_id
    serves the order, the keyset and the count)."""
    page, count = _list_statements()
    return ListQuery(page=page, count=count, values={"course_id": course_id}, shape="chat")


# A message of the list and its author's name (null once the account is deleted).
ROW_COLUMNS: tuple[ColumnElement[Any], ...] = (
    ChatMessage.id.expression,
    ChatMessage.course_id.expression,
    ChatMessage.author_id.expression,
    ChatMessage.body.expression,
    ChatMessage.created_at.expression,
    ChatMessage.edited_at.expression,
    User.full_name.expression,
)


@cache
def _list_statements() -> tuple[AnySelect, AnySelect]:
    in_course = ChatMessage.course_id == bindparam("course_id")
    page = select(*ROW_COLUMNS).outerjoin(User, User.id == ChatMessage.author_id).where(in_course)
    count = select(func.count()).select_from(ChatMessage).where(in_course)
    return page, count


async def get_message(
    session: AsyncSession, *, course_id: int, message_id: int
) -> tuple[ChatMessage, str | None] | None:
    stmt = (
        select(ChatMessage, User.full_name)
        .outerjoin(User, User.id == ChatMessage.author_id)
        .where(ChatMessage.id == message_id, ChatMessage.course_id == course_id)
    )
    row = (await session.execute(stmt)).first()
    return (row[0], row[1]) if row is not None else None


async def delete_message(session: AsyncSession, message_id: int) -> None:
    await session.execute(
        delete(ChatMessage)
        .where(ChatMessage.id == message_id)
        .execution_options(synchronize_session=False)
    )


async def list_messages(
    session: AsyncSession, *, course_id: int, params: PageParams
) -> PageResult[Any]:
    """One page of the course's chat and the total, read with Core: rows of
    :data:`ROW_COLUMNS` (values, not entities)."""
    return await fetch_page(
        session,
        list_query(course_id),
        params,
        sort_columns=SORT_COLUMNS,
        tie_breaker=TIE_BREAKER,
        scalars=False,
        core=True,
    )
