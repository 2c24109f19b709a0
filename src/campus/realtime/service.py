"""Who a socket belongs to: single-use tickets, or the page session cookie.

A ticket (``POST /api/v1/ws/ticket``) is 32 random bytes, valid :data:`TICKET_SECONDS`
seconds and once; only its SHA-256 is stored. It is bound to the sign-in session of the
bearer token that asked for it, and the socket it opens lives as long as that session.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from campus.accounts.service import sessions, web_sessions
from campus.kit.clock import utcnow
from campus.models.accounts import User
from campus.realtime import repository

TICKET_SECONDS = 60
TICKET_BYTES = 32
TICKET_MAX_CHARS = 128


@dataclass(frozen=True, slots=True)
class SocketIdentity:
    """Whose socket it is: the user's id and the sign-in session (``kind`` ``api`` or
    ``web``). Ids only: an open socket keeps no ORM object (each frame that needs the user
    loads it, checking the session)."""

    user_id: int
    session_id: str
    kind: str


@dataclass(frozen=True, slots=True)
class Ticket:
    ticket: str
    expires_in: int


def _hash(ticket: str) -> str:
    return hashlib.sha256(ticket.encode("utf-8", "surrogatepass")).hexdigest()


async def issue_ticket(session: AsyncSession, *, user_id: int, session_id: str) -> Ticket:
    now = utcnow()
    await repository.delete_expired(session, before=now)
    ticket = secrets.token_urlsafe(TICKET_BYTES)
    await repository.add_ticket(
        session,
        token_hash=_hash(ticket),
        user_id=user_id,
        session_id=session_id,
        now=now,
        expires_at=now + timedelta(seconds=TICKET_SECONDS),
    )
    return Ticket(ticket=ticket, expires_in=TICKET_SECONDS)


async def identity_from_ticket(session: AsyncSession, ticket: str) -> SocketIdentity | None:
    """Redeem a ticket (once); None when it is unknown, used, expired, or its session ended."""
    if not ticket or len(ticket) > TICKET_MAX_CHARS:
        return None
    found = await repository.redeem(session, token_hash=_hash(ticket), now=utcnow())
    if found is None:
        return None
    user_id, session_id = found
    user = await sessions.live_session_user(
        session, session_id=session_id, user_id=user_id, kind="api"
    )
    if user is None:
        return None
    return SocketIdentity(user_id=user.id, session_id=session_id, kind="api")


async def identity_from_cookie(session: AsyncSession, cookie_value: str) -> SocketIdentity | None:
    found = await web_sessions.user_from_web_session(session, cookie_value=cookie_value)
    if found is None:
        return None
    auth_session, user = found
    return SocketIdentity(user_id=user.id, session_id=auth_session.id, kind="web")


async def current_user(session: AsyncSession, identity: SocketIdentity) -> User | None:
    """The socket's user if its session is still live (checked before each frame's work)."""
    return await sessions.live_session_user(
        session, session_id=identity.session_id, user_id=identity.user_id, kind=identity.kind
    )


async def live_sessions(session: AsyncSession, session_ids: set[str]) -> set[str]:
    return await sessions.live_session_ids(session, session_ids)
