from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from campus.db import Base
from campus.kit.types import UTCDateTime
from campus.models._columns import created_at_column


class SocketTicket(Base):
    """A single-use ticket to open a WebSocket (``POST /api/v1/ws/ticket``).

    Only the SHA-256 of the ticket is stored. Redeeming it is one ``UPDATE ... WHERE
    used_at IS NULL AND expires_at > now``, so it opens one socket even under a race. The
    socket belongs to the sign-in session the ticket was issued for and closes with it.
    """

    __tablename__ = "socket_tickets"
    __table_args__ = (Index("ix_socket_tickets_expires_at", "expires_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    session_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("auth_sessions.id", ondelete="CASCADE")
    )
    created_at: Mapped[datetime] = created_at_column()
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
