"""SQL for socket tickets."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncSession

from campus.models.realtime import SocketTicket


async def add_ticket(
    session: AsyncSession,
    *,
    token_hash: str,
    user_id: int,
    session_id: str,
    now: datetime,
    expires_at: datetime,
) -> None:
    session.add(
        SocketTicket(
            token_hash=token_hash,
            user_id=user_id,
            session_id=session_id,
            created_at=now,
            expires_at=expires_at,
        )
    )
    await session.flush()


async def delete_expired(session: AsyncSession, *, before: datetime) -> None:
    await session.execute(
        delete(SocketTicket)
        .where(SocketTicket.expires_at < before)
        .execution_options(synchronize_session=False)
    )


async def redeem(
    session: AsyncSession, *, token_hash: str, now: datetime
) -> tuple[int, str] | None:
    """Use the ticket once: ``(user_id, session_id)``, or None if unknown, used or expired.

    One conditional UPDATE, so two sockets racing with one ticket cannot both win."""
    stmt = (
        update(SocketTicket)
        .where(
            SocketTicket.token_hash == token_hash,
            SocketTicket.used_at.is_(None),
            SocketTicket.expires_at > now,
        )
        .values(used_at=now)
        .returning(SocketTicket.user_id, SocketTicket.session_id)
        .execution_options(synchronize_session=False)
    )
    row = (await session.execute(stmt)).first()
    return (row[0], row[1]) if row is not None else None
