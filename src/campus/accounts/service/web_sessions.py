"""Web (cookie) sessions for the server-rendered pages.

The browser holds an opaque random id; the table keeps only its SHA-256, so a leaked
database row cannot be replayed as a cookie. Each sign-in gets a new id and a new CSRF
secret. ``sessions.end_all_sessions`` (deactivation, password change) ends web sessions too.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from campus.accounts import repository
from campus.accounts.service.sessions import open_session, touch_session
from campus.config import Settings
from campus.kit.clock import utcnow
from campus.models.accounts import AuthSession, User

WEB_SESSION_ID_BYTES = 32


def web_session_key(cookie_value: str) -> str:
    """The stored id of a web session: the SHA-256 of the cookie value (64 hex chars)."""
    return hashlib.sha256(cookie_value.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True, slots=True)
class WebSession:
    cookie_value: str
    auth_session: AuthSession

    @property
    def max_age(self) -> int:
        """Seconds the cookie should live: as long as the session."""
        lifetime = self.auth_session.expires_at - self.auth_session.created_at
        return int(lifetime.total_seconds())


async def start_web_session(
    session: AsyncSession,
    settings: Settings,
    user: User,
    *,
    user_agent: str | None = None,
    ip: str | None = None,
    method: str = "password",
    alert_new_device: bool = True,
) -> WebSession:
    """Open a cookie session for ``user``; the caller sets ``cookie_value`` as the cookie.
    The sign-in is logged (``method``) and a new device mailed about (``open_session``)."""
    cookie_value = secrets.token_urlsafe(WEB_SESSION_ID_BYTES)
    auth_session = await open_session(
        session,
        settings,
        user,
        id=web_session_key(cookie_value),
        kind="web",
        csrf_secret=secrets.token_urlsafe(32),
        user_agent=user_agent,
        ip=ip,
        method=method,
        alert_new_device=alert_new_device,
    )
    return WebSession(cookie_value=cookie_value, auth_session=auth_session)


async def user_from_web_session(
    session: AsyncSession, *, cookie_value: str
) -> tuple[AuthSession, User] | None:
    """The live web session of a cookie and its active user, or None (never raises).
    The session's "last used" moves on (``sessions.touch_session``)."""
    if not cookie_value or len(cookie_value) > 128:
        return None
    found = await repository.get_live_web_session(
        session, session_id=web_session_key(cookie_value), now=utcnow()
    )
    if found is not None:
        await touch_session(session, session_id=found[0].id, last_used_at=found[0].last_used_at)
    return found


async def end_web_session(session: AsyncSession, *, cookie_value: str) -> None:
    """Log a browser out: its session stops working at once. Unknown ids are ignored."""
    if not cookie_value or len(cookie_value) > 128:
        return
    auth_session = await repository.get_auth_session(session, web_session_key(cookie_value))
    if auth_session is not None and auth_session.kind == "web" and auth_session.revoked_at is None:
        auth_session.revoked_at = utcnow()
        await session.flush()
