"""Devices: the user's live sign-in sessions (API token families and browser cookies)
seen as the devices they run on, and signing them out one by one or all but this one."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from campus.accounts import repository
from campus.accounts.devices import DeviceInfo, describe
from campus.accounts.service.sessions import end_all_sessions
from campus.errors import NotFound
from campus.kit.clock import utcnow
from campus.kit.i18n import N_
from campus.kit.pagination.envelope import PageResult
from campus.kit.pagination.params import PageParams
from campus.models.accounts import AuthSession, User

#: what a session id looks like (``token_urlsafe`` for API sessions, hex for web ones)
SESSION_ID_PATTERN = r"^[A-Za-z0-9_\-]{1,64}$"
_SESSION_ID = re.compile(SESSION_ID_PATTERN)


@dataclass(frozen=True, slots=True)
class Device:
    """A live sign-in session as the devices list shows it (never a token)."""

    id: str
    kind: str
    created_at: datetime
    last_used_at: datetime
    expires_at: datetime
    user_agent: str | None
    ip: str | None
    info: DeviceInfo
    current: bool

    @property
    def browser(self) -> str | None:
        return self.info.browser

    @property
    def os(self) -> str | None:
        return self.info.os

    @property
    def device(self) -> str | None:
        return self.info.device

    @property
    def label(self) -> str:
        return self.info.label

    @classmethod
    def of(cls, row: AuthSession, *, current_session_id: str | None) -> Device:
        return cls(
            id=row.id,
            kind=row.kind,
            created_at=row.created_at,
            last_used_at=row.last_used_at,
            expires_at=row.expires_at,
            user_agent=row.user_agent,
            ip=row.ip,
            info=describe(row.user_agent),
            current=row.id == current_session_id,
        )


async def list_devices(
    session: AsyncSession, actor: User, *, params: PageParams, current_session_id: str | None
) -> PageResult[Device]:
    """The actor's own live sessions (API and web), ``current`` marking the one asking."""
    page = await repository.list_live_sessions(session, params, user_id=actor.id, now=utcnow())
    devices = [Device.of(row, current_session_id=current_session_id) for row in page.items]
    return PageResult(
        items=devices,
        total=page.total,
        skip=page.skip,
        limit=page.limit,
        next_keyset=page.next_keyset,
    )


async def sign_out_device(session: AsyncSession, actor: User, *, session_id: str) -> None:
    """End one of the actor's own live sessions at once (its tokens or cookie stop
    working); an unknown, ended or someone else's session is a 404."""
    ended = bool(_SESSION_ID.match(session_id)) and await repository.revoke_own_session(
        session, user_id=actor.id, session_id=session_id, now=utcnow()
    )
    if not ended:
        raise NotFound(N_("No such session."), code="session-not-found")


async def sign_out_other_devices(
    session: AsyncSession, actor: User, *, current_session_id: str
) -> None:
    """End every session of the actor but the one making the request."""
    await end_all_sessions(session, user_id=actor.id, except_session_id=current_session_id)
