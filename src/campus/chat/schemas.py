"""Chat inputs, outputs and socket frames (API.md §7)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, Field

from campus.kit.schemas import InputSchema, Schema
from campus.models.chat import MESSAGE_BODY_MAX

__all__ = ["MESSAGE_BODY_MAX", "MessageAuthor", "MessageBody", "MessageCreate", "MessageRead"]


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("the message must not be blank")
    return value


MessageBody = Annotated[
    str,
    Field(
        min_length=1,
        max_length=MESSAGE_BODY_MAX,
        description=(
            f"1..{MESSAGE_BODY_MAX} characters, not only whitespace, no NUL. Stored and shown "
            "as plain text (never HTML)."
        ),
    ),
    AfterValidator(_not_blank),
]


class MessageCreate(InputSchema):
    body: MessageBody


class MessageUpdate(InputSchema):
    body: MessageBody


class MessageAuthor(Schema):
    id: int
    full_name: str


class MessageRead(Schema):
    id: int
    course_id: int
    author: MessageAuthor | None = Field(
        description="Who wrote it; null once the author's account was deleted."
    )
    body: str
    created_at: datetime
    edited_at: datetime | None = Field(description="When the author last edited it, if ever.")
