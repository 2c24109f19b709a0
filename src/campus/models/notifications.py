from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from campus.db import Base
from campus.kit.types import UTCDateTime
from campus.models._columns import created_at_column

KIND_MAX = 64
TITLE_MAX = 300
LINK_MAX = 500


class Notification(Base):
    """Something a user should know about, kept until deleted with the user.

    ``kind`` is a dotted name (``course.student_joined``, ``lesson.published``, ...), not a
    database enum: a domain that adds a kind needs no migration. ``data`` is the kind's
    details (ids, titles) as JSON.
    """

    __tablename__ = "notifications"
    __table_args__ = (
        Index("ix_notifications_user_id_created_at_id", "user_id", "created_at", "id"),
        # The unread of a user (the bell's count, the `unread` filter): a partial index on
        # both databases, so it holds only what is still unread.
        Index(
            "ix_notifications_user_id_unread",
            "user_id",
            "created_at",
            "id",
            sqlite_where=text("read_at IS NULL"),
            postgresql_where=text("read_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(KIND_MAX))
    title: Mapped[str] = mapped_column(String(TITLE_MAX))
    link: Mapped[str | None] = mapped_column(String(LINK_MAX), nullable=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = created_at_column()
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
