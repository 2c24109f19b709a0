"""The accounts domain's answer to "who is asking" (``campus.http.identity``).

``campus.main`` puts :data:`provider` on ``app.state.identity``; ``campus.http`` calls it to
check a bearer token (API) or a web-session cookie (pages), and never imports this module.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from campus.accounts.service import sessions, web_sessions
from campus.accounts.tokens import decode_token
from campus.config import Settings
from campus.errors import CampusError
from campus.http.identity import Identity, Viewer


class AccountsIdentity:
    async def from_bearer(self, session: AsyncSession, settings: Settings, token: str) -> Identity:
        auth = await sessions.auth_from_access_token(session, settings, token)
        return Identity(user=auth.user, session_id=auth.session_id, viewer=Viewer.of(auth.user))

    async def from_cookie(
        self, session: AsyncSession, settings: Settings, cookie: str
    ) -> Identity | None:
        found = await web_sessions.user_from_web_session(session, cookie_value=cookie)
        if found is None:
            return None
        auth_session, user = found
        return Identity(
            user=user,
            session_id=auth_session.id,
            viewer=Viewer.of(user),
            csrf_secret=auth_session.csrf_secret or auth_session.id,
        )

    def account_key(self, settings: Settings, token: str) -> str | None:
        try:
            claims = decode_token(settings, token, expected="access")
        except CampusError:
            return None
        return str(claims.user_id)


provider = AccountsIdentity()
