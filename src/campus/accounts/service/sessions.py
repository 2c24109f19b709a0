"""Sign-in sessions: one ``auth_sessions`` row per sign-in. An API session is a family of
rotating refresh tokens; access tokens name their session and work only while it is live."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from campus.accounts import repository
from campus.accounts.schemas import TokenPair
from campus.accounts.service.activity import record_sign_in
from campus.accounts.tokens import decode_token, encode_token, new_token_id
from campus.config import Settings
from campus.errors import Unauthenticated
from campus.kit.clock import utcnow
from campus.log import get_logger
from campus.models.accounts import AuthSession, User

#: ``last_used_at`` is written at most this often per session (one UPDATE a minute).
TOUCH_EVERY = timedelta(minutes=1)

logger = get_logger("campus.accounts.sessions")


@dataclass(frozen=True, slots=True)
class AuthContext:
    """Who is asking, and through which sign-in session."""

    user: User
    session_id: str


async def open_session(
    session: AsyncSession,
    settings: Settings,
    user: User,
    *,
    id: str,
    kind: str,
    user_agent: str | None,
    ip: str | None,
    refresh_token_id: str | None = None,
    csrf_secret: str | None = None,
    method: str = "password",
    alert_new_device: bool = True,
) -> AuthSession:
    """Insert a sign-in session row (API token family or web cookie), valid for the
    refresh-token lifetime, remembering the client's user agent and address, and log the
    sign-in (``method``: ``password``, ``register``, ``reset``...), mailing the user when
    it comes from a new device (``activity.record_sign_in``)."""
    now = utcnow()
    auth_session = AuthSession(
        id=id,
        user_id=user.id,
        kind=kind,
        refresh_token_id=refresh_token_id,
        csrf_secret=csrf_secret,
        created_at=now,
        last_used_at=now,
        expires_at=now + timedelta(days=settings.refresh_token_days),
        user_agent=(user_agent or "")[:255] or None,
        ip=(ip or "")[:64] or None,
    )
    session.add(auth_session)
    await session.flush()
    await record_sign_in(
        session, settings, user, auth_session, method=method, alert_new_device=alert_new_device
    )
    return auth_session


async def start_session(
    session: AsyncSession,
    settings: Settings,
    user: User,
    *,
    user_agent: str | None = None,
    ip: str | None = None,
    method: str = "password",
) -> TokenPair:
    """Open a sign-in session (a family of rotating refresh tokens) and issue its tokens."""
    auth_session = await open_session(
        session,
        settings,
        user,
        id=secrets.token_urlsafe(24),
        kind="api",
        refresh_token_id=new_token_id(),
        user_agent=user_agent,
        ip=ip,
        method=method,
    )
    return issue_tokens(settings, auth_session)


def issue_tokens(settings: Settings, auth_session: AuthSession) -> TokenPair:
    access_lifetime = timedelta(minutes=settings.access_token_minutes)
    access = encode_token(
        settings,
        user_id=auth_session.user_id,
        session_id=auth_session.id,
        type_="access",
        lifetime=access_lifetime,
    )
    refresh = encode_token(
        settings,
        user_id=auth_session.user_id,
        session_id=auth_session.id,
        type_="refresh",
        lifetime=auth_session.expires_at - utcnow(),
        token_id=auth_session.refresh_token_id,
    )
    return TokenPair(
        access_token=access,
        refresh_token=refresh,
        expires_in=int(access_lifetime.total_seconds()),
    )


async def auth_from_access_token(
    session: AsyncSession, settings: Settings, token: str
) -> AuthContext:
    """The user and session of a valid access token whose session is still live, else 401.
    The session's "last used" moves on (``touch_session``)."""
    claims = decode_token(settings, token, expected="access")
    found = await repository.get_live_session_activity(
        session, session_id=claims.session_id, user_id=claims.user_id, now=utcnow()
    )
    if found is None:
        raise Unauthenticated("Invalid or expired token.")
    user, last_used_at = found
    await touch_session(session, session_id=claims.session_id, last_used_at=last_used_at)
    return AuthContext(user=user, session_id=claims.session_id)


async def touch_session(session: AsyncSession, *, session_id: str, last_used_at: datetime) -> None:
    """Remember that a session was just used, at most once per ``TOUCH_EVERY``: what the
    devices list shows as "last used". Best effort: a busy SQLite database skips it (the
    next request tries again), and it never waits for a row someone else is writing."""
    now = utcnow()
    if last_used_at > now - TOUCH_EVERY:
        return
    try:
        await repository.touch_session(
            session, session_id=session_id, now=now, used_before=now - TOUCH_EVERY
        )
    except OperationalError:  # SQLite: another writer got there first. A failed statement
        logger.info("session_touch_skipped")  # leaves SQLite's transaction as it was.


async def user_from_access_token(session: AsyncSession, settings: Settings, token: str) -> User:
    """The user of a valid access token whose session is still live, else 401."""
    return (await auth_from_access_token(session, settings, token)).user


async def rotate_refresh_token(
    session: AsyncSession, settings: Settings, *, refresh_token: str
) -> TokenPair:
    """Exchange a refresh token for a new pair; a reused one ends the whole session."""
    claims = decode_token(settings, refresh_token, expected="refresh")
    now = utcnow()
    auth_session = await repository.get_auth_session(session, claims.session_id, for_update=True)
    if (
        auth_session is None
        or auth_session.user_id != claims.user_id
        or auth_session.kind != "api"
        or auth_session.revoked_at is not None
        or auth_session.expires_at <= now
    ):
        raise Unauthenticated("Invalid or expired refresh token.")
    if claims.token_id is None or claims.token_id != auth_session.refresh_token_id:
        # Reuse of a rotated token: someone else may hold the family. End it.
        auth_session.revoked_at = now
        await session.flush()
        raise Unauthenticated(
            "Refresh token reuse detected; the session has been ended."
        ).committing()
    user = await repository.get_user(session, auth_session.user_id)
    if user is None or not user.is_active:
        raise Unauthenticated("Invalid or expired refresh token.")
    auth_session.refresh_token_id = new_token_id()
    auth_session.last_used_at = now
    await session.flush()
    return issue_tokens(settings, auth_session)


async def end_session(
    session: AsyncSession, settings: Settings, actor: User, *, refresh_token: str
) -> None:
    """Log out: the session's refresh and access tokens stop working at once."""
    claims = decode_token(settings, refresh_token, expected="refresh")
    auth_session = await repository.get_auth_session(session, claims.session_id)
    if auth_session is None or auth_session.user_id != actor.id:
        raise Unauthenticated("Invalid refresh token.")
    if auth_session.revoked_at is None:
        auth_session.revoked_at = utcnow()
        await session.flush()


async def end_all_sessions(
    session: AsyncSession, *, user_id: int, except_session_id: str | None = None
) -> None:
    """End every session of the user (API and web), except the one named."""
    await repository.revoke_sessions(
        session, user_id=user_id, now=utcnow(), except_session_id=except_session_id
    )


async def live_session_user(
    session: AsyncSession, *, session_id: str, user_id: int, kind: str
) -> User | None:
    """The active user of a sign-in session (``api`` or ``web``) that is still live, else
    None: what a long-lived connection (a WebSocket) checks before each thing it does."""
    return await repository.get_live_session_user(
        session, session_id=session_id, user_id=user_id, now=utcnow(), kind=kind
    )


LIVE_SESSION_CHUNK = 500


async def live_session_ids(session: AsyncSession, session_ids: Iterable[str]) -> set[str]:
    """Which of ``session_ids`` are still live (not ended, not expired, user active)."""
    ids = sorted(set(session_ids))
    live: set[str] = set()
    for start in range(0, len(ids), LIVE_SESSION_CHUNK):
        live |= await repository.live_session_ids(
            session, session_ids=ids[start : start + LIVE_SESSION_CHUNK], now=utcnow()
        )
    return live
