from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from campus.db import Base
from campus.kit.types import UTCDateTime
from campus.models._columns import created_at_column

MESSAGE_BODY_MAX = 4000


class ChatMessage(Base):
    """One message of a course's chat. Deleting the course deletes its chat (CASCADE);
    deleting the author keeps the message without an author (SET NULL)."""

    __tablename__ = "chat_messages"
    __table_args__ = (
        # Newest first in a course, and the keyset "older than this one" of "load older".
        Index("ix_chat_messages_course_id_created_at_id", "course_id", "created_at", "id"),
        Index("ix_chat_messages_author_id", "author_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"))
    author_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    body: Mapped[str] = mapped_column(String(MESSAGE_BODY_MAX))
    created_at: Mapped[datetime] = created_at_column()
    edited_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
