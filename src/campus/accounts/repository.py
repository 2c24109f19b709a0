"""SQL for users and sign-in sessions."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Select, bindparam, delete, exists, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from campus.kit.driverreads import attach_loaded, fetch_rows, loaded_columns
from campus.kit.pagination.envelope import PageResult
from campus.kit.pagination.params import PageParams
from campus.kit.pagination.statements import ListQuery, fetch_page
from campus.models.accounts import (
    AccountEvent,
    AccountToken,
    AccountTokenPurpose,
    AuthSession,
    OAuthAccount,
    OAuthExchangeCode,
    OAuthState,
    User,
    UserRole,
)
from campus.models.counters import Counter, counter_value
from campus.models.courses import Course


async def get_user(session: AsyncSession, user_id: int) -> User | None:
    return await session.get(User, user_id)


async def get_user_by_email(
    session: AsyncSession, email: str, *, for_update: bool = False
) -> User | None:
    stmt = select(User).where(User.email == email)
    if for_update:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def users_query(
    *, role: UserRole | None = None, is_active: bool | None = None, q: str | None = None
) -> Select[Any]:
    """Users matching the admin list's filters (``q``: email or name, case-insensitive)."""
    stmt = select(User)
    if role is not None:
        stmt = stmt.where(User.role == role)
    if is_active is not None:
        stmt = stmt.where(User.is_active.is_(is_active))
    if q:
        pattern = f"%{_escape_like(q.lower())}%"
        stmt = stmt.where(
            or_(
                User.email.ilike(pattern, escape="\\"),
                User.full_name.ilike(pattern, escape="\\"),
            )
        )
    return stmt


def users_total(
    *, role: UserRole | None = None, is_active: bool | None = None, q: str | None = None
) -> Select[Any] | None:
    """The unfiltered list's total from the maintained counter; None when filtered (the
    filtered statement is counted)."""
    if role is None and is_active is None and not q:
        return counter_value(Counter.USERS)
    return None


# The admin list's sort keys (API.md §2).
USER_SORT_COLUMNS: dict[str, ColumnElement[Any]] = {
    "created_at": User.created_at.expression,
    "email": User.email.expression,
}
USER_TIE_BREAKER: ColumnElement[Any] = User.id.expression


async def list_users(
    session: AsyncSession,
    params: PageParams,
    *,
    role: UserRole | None = None,
    is_active: bool | None = None,
    q: str | None = None,
) -> PageResult[User]:
    """One page of :func:`users_query` and its total."""
    query = ListQuery(
        page=users_query(role=role, is_active=is_active, q=q),
        count=users_total(role=role, is_active=is_active, q=q),
    )
    return await fetch_page(
        session, query, params, sort_columns=USER_SORT_COLUMNS, tie_breaker=USER_TIE_BREAKER
    )


async def lock_active_admin_ids(session: AsyncSession) -> list[int]:
    """The ids of the active admins, locking their rows until the unit of work ends.

    Two requests that each remove an admin serialize here (PostgreSQL re-checks the
    condition after the wait, so the second one sees the first one's change). SQLite
    serializes writers anyway (``BEGIN IMMEDIATE``).
    """
    stmt = (
        select(User.id)
        .where(User.role == UserRole.ADMIN, User.is_active.is_(True))
        .order_by(User.id)
        .with_for_update()
    )
    return list((await session.execute(stmt)).scalars().all())


async def teaches_courses(session: AsyncSession, user_id: int) -> bool:
    stmt = select(exists().where(Course.teacher_id == user_id))
    return bool((await session.execute(stmt)).scalar())


async def add_account_token(
    session: AsyncSession,
    *,
    user_id: int,
    purpose: AccountTokenPurpose,
    token_hash: str,
    expires_at: datetime,
) -> AccountToken:
    token = AccountToken(
        user_id=user_id, purpose=purpose, token_hash=token_hash, expires_at=expires_at
    )
    session.add(token)
    await session.flush()
    return token


async def get_account_token(
    session: AsyncSession, *, token_hash: str, purpose: AccountTokenPurpose
) -> AccountToken | None:
    stmt = select(AccountToken).where(
        AccountToken.token_hash == token_hash, AccountToken.purpose == purpose
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def consume_account_token(session: AsyncSession, *, token_id: int, now: datetime) -> bool:
    """Mark the token used; False if it was already used (also by a concurrent request)."""
    result = await session.execute(
        update(AccountToken)
        .where(AccountToken.id == token_id, AccountToken.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0) == 1)


async def retire_account_tokens(
    session: AsyncSession, *, user_id: int, purpose: AccountTokenPurpose, now: datetime
) -> None:
    """Make every outstanding token of ``purpose`` for the user unusable."""
    await session.execute(
        update(AccountToken)
        .where(
            AccountToken.user_id == user_id,
            AccountToken.purpose == purpose,
            AccountToken.used_at.is_(None),
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )


async def get_live_session_user(
    session: AsyncSession, *, session_id: str, user_id: int, now: datetime, kind: str = "api"
) -> User | None:
    """The active user of a sign-in session that is still live, in one query.

    Runs on every authenticated request, so the statement is built once and only the
    values are bound (building the expression tree cost more than running the query), and
    only the user is loaded as an ORM entity (the session row is only checked).
    """
    found = await get_live_session_activity(
        session, session_id=session_id, user_id=user_id, now=now, kind=kind
    )
    return found[0] if found is not None else None


@cache
def _live_session_statement() -> Select[Any]:
    """The user's columns (in :func:`~campus.kit.driverreads.attach_loaded`'s order) and
    the session's ``last_used_at``, for a live session of an active user."""
    return (
        select(*loaded_columns(User), AuthSession.last_used_at)
        .join(AuthSession, AuthSession.user_id == User.id)
        .where(
            AuthSession.id == bindparam("session_id"),
            AuthSession.user_id == bindparam("user_id"),
            AuthSession.kind == bindparam("kind"),
            AuthSession.revoked_at.is_(None),
            AuthSession.expires_at > bindparam("now"),
            User.is_active.is_(True),
        )
    )


async def get_auth_session(
    session: AsyncSession, session_id: str, *, for_update: bool = False
) -> AuthSession | None:
    stmt = select(AuthSession).where(AuthSession.id == session_id)
    if for_update:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


async def revoke_sessions(
    session: AsyncSession, *, user_id: int, now: datetime, except_session_id: str | None = None
) -> None:
    stmt = (
        update(AuthSession)
        .where(AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    if except_session_id is not None:
        stmt = stmt.where(AuthSession.id != except_session_id)
    await session.execute(stmt)


async def delete_user(session: AsyncSession, user: User) -> None:
    await session.delete(user)
    await session.flush()


async def get_live_web_session(
    session: AsyncSession, *, session_id: str, now: datetime
) -> tuple[AuthSession, User] | None:
    """A live web (cookie) session and its active user, in one query."""
    stmt = (
        select(AuthSession, User)
        .join(User, User.id == AuthSession.user_id)
        .where(
            AuthSession.id == session_id,
            AuthSession.kind == "web",
            AuthSession.revoked_at.is_(None),
            AuthSession.expires_at > now,
            User.is_active.is_(True),
        )
    )
    row = (await session.execute(stmt)).first()
    return (row[0], row[1]) if row else None


async def delete_stale_sessions(
    session: AsyncSession, *, now: datetime, revoked_before: datetime
) -> int:
    """Sessions that expired, or were ended before ``revoked_before``: nothing can use them."""
    stmt = delete(AuthSession).where(
        or_(AuthSession.expires_at < now, AuthSession.revoked_at < revoked_before)
    )
    return int((await session.execute(stmt)).rowcount or 0)  # type: ignore[attr-defined]


async def delete_stale_tokens(
    session: AsyncSession, *, now: datetime, used_before: datetime
) -> int:
    """Mailed tokens that expired, or were used before ``used_before``."""
    stmt = delete(AccountToken).where(
        or_(AccountToken.expires_at < now, AccountToken.used_at < used_before)
    )
    return int((await session.execute(stmt)).rowcount or 0)  # type: ignore[attr-defined]


async def live_session_ids(
    session: AsyncSession, *, session_ids: list[str], now: datetime
) -> set[str]:
    """Which of ``session_ids`` are live sign-in sessions of active users (one statement)."""
    if not session_ids:
        return set()
    stmt = (
        select(AuthSession.id)
        .join(User, User.id == AuthSession.user_id)
        .where(
            AuthSession.id.in_(session_ids),
            AuthSession.revoked_at.is_(None),
            AuthSession.expires_at > now,
            User.is_active.is_(True),
        )
    )
    return set((await session.execute(stmt)).scalars().all())


# --- devices: live sessions and the activity log ----------------------------------------------


async def get_live_session_activity(
    session: AsyncSession, *, session_id: str, user_id: int, now: datetime, kind: str = "api"
) -> tuple[User, datetime] | None:
    """:func:`get_live_session_user` plus the session's ``last_used_at`` (one query).

    Runs on every signed-in request: the statement is built once, read through the driver
    when it can be (:func:`~campus.kit.driverreads.fetch_rows`), and the user is attached
    to ``session`` from the row's columns without the ORM's query and loading
    machinery (:func:`~campus.kit.driverreads.attach_loaded`): it is the same persistent
    ``User`` a query would have returned.
    """
    params = {"session_id": session_id, "user_id": user_id, "kind": kind, "now": now}
    rows = await fetch_rows(await session.connection(), _live_session_statement(), params)
    if not rows:
        return None
    row = rows[0]
    user = attach_loaded(session, User, row[:-1])
    last_used_at: datetime = row[-1]
    return user, last_used_at


async def touch_session(
    session: AsyncSession, *, session_id: str, now: datetime, used_before: datetime
) -> None:
    """Set ``last_used_at`` if it is older than ``used_before``; never waits for a row
    another transaction holds (PostgreSQL ``SKIP LOCKED``: that one is recent anyway)."""
    locked = (
        select(AuthSession.id)
        .where(AuthSession.id == session_id, AuthSession.last_used_at < used_before)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    await session.execute(
        update(AuthSession)
        .where(AuthSession.id == locked)
        .values(last_used_at=now)
        .execution_options(synchronize_session=False)
    )


def live_sessions_query(*, user_id: int, now: datetime) -> Select[Any]:
    """The user's live sign-in sessions (API and web): their devices."""
    return select(AuthSession).where(
        AuthSession.user_id == user_id,
        AuthSession.revoked_at.is_(None),
        AuthSession.expires_at > now,
    )


SESSION_SORT_COLUMNS: dict[str, ColumnElement[Any]] = {
    "created_at": AuthSession.created_at.expression,
    "last_used_at": AuthSession.last_used_at.expression,
}
SESSION_TIE_BREAKER: ColumnElement[Any] = AuthSession.id.expression


async def list_live_sessions(
    session: AsyncSession, params: PageParams, *, user_id: int, now: datetime
) -> PageResult[AuthSession]:
    query = ListQuery(page=live_sessions_query(user_id=user_id, now=now))
    return await fetch_page(
        session,
        query,
        params,
        sort_columns=SESSION_SORT_COLUMNS,
        tie_breaker=SESSION_TIE_BREAKER,
    )


async def revoke_own_session(
    session: AsyncSession, *, user_id: int, session_id: str, now: datetime
) -> bool:
    """End one live session of the user; False if there is none with that id."""
    result = await session.execute(
        update(AuthSession)
        .where(
            AuthSession.id == session_id,
            AuthSession.user_id == user_id,
            AuthSession.revoked_at.is_(None),
            AuthSession.expires_at > now,
        )
        .values(revoked_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0) == 1)


async def add_account_event(session: AsyncSession, event: AccountEvent) -> AccountEvent:
    session.add(event)
    await session.flush()
    return event


async def device_known(session: AsyncSession, *, user_id: int, device_key: str) -> bool:
    stmt = select(
        exists().where(AccountEvent.user_id == user_id, AccountEvent.device_key == device_key)
    )
    return bool((await session.execute(stmt)).scalar())


async def has_account_events(session: AsyncSession, *, user_id: int) -> bool:
    stmt = select(exists().where(AccountEvent.user_id == user_id))
    return bool((await session.execute(stmt)).scalar())


async def recent_account_events(
    session: AsyncSession, *, user_id: int, limit: int
) -> list[AccountEvent]:
    stmt = (
        select(AccountEvent)
        .where(AccountEvent.user_id == user_id)
        .order_by(AccountEvent.created_at.desc(), AccountEvent.id.desc())
        .limit(limit)
    )
    return list((await session.execute(stmt)).scalars().all())


async def delete_old_account_events(session: AsyncSession, *, before: datetime) -> int:
    stmt = delete(AccountEvent).where(AccountEvent.created_at < before)
    return int((await session.execute(stmt)).rowcount or 0)  # type: ignore[attr-defined]


# --- social sign-in ----------------------------------------------------------------------


async def get_oauth_account(
    session: AsyncSession, *, provider: str, subject: str
) -> OAuthAccount | None:
    stmt = select(OAuthAccount).where(
        OAuthAccount.provider == provider, OAuthAccount.subject == subject
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def get_user_oauth_account(
    session: AsyncSession, *, user_id: int, provider: str
) -> OAuthAccount | None:
    stmt = select(OAuthAccount).where(
        OAuthAccount.user_id == user_id, OAuthAccount.provider == provider
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def list_oauth_accounts(
    session: AsyncSession, *, user_id: int, for_update: bool = False
) -> list[OAuthAccount]:
    """The user's linked accounts; ``for_update`` locks them until the unit of work ends,
    so two concurrent unlinks of the last two cannot both pass the guard (PostgreSQL;
    SQLite serializes writers with ``BEGIN IMMEDIATE``)."""
    stmt = (
        select(OAuthAccount)
        .where(OAuthAccount.user_id == user_id)
        .order_by(OAuthAccount.provider, OAuthAccount.id)
    )
    if for_update:
        stmt = stmt.with_for_update()
    return list((await session.execute(stmt)).scalars().all())


async def delete_oauth_account(session: AsyncSession, account: OAuthAccount) -> None:
    await session.delete(account)
    await session.flush()


async def add_oauth_state(session: AsyncSession, *, state_hash: str, expires_at: datetime) -> None:
    """Remember a returned ``state``; a second one with the same hash fails the flush
    (IntegrityError), also under concurrency."""
    session.add(OAuthState(state_hash=state_hash, expires_at=expires_at))
    await session.flush()


async def add_oauth_exchange_code(
    session: AsyncSession, *, code_hash: str, user_id: int, provider: str, expires_at: datetime
) -> None:
    session.add(
        OAuthExchangeCode(
            code_hash=code_hash, user_id=user_id, provider=provider, expires_at=expires_at
        )
    )
    await session.flush()


async def consume_oauth_exchange_code(
    session: AsyncSession, *, code_hash: str, now: datetime
) -> tuple[int, str] | None:
    """Use a one-time code up, atomically: ``(user_id, provider)``, or None if the code is
    unknown, used (also by a concurrent request) or expired."""
    stmt = (
        update(OAuthExchangeCode)
        .where(
            OAuthExchangeCode.code_hash == code_hash,
            OAuthExchangeCode.used_at.is_(None),
            OAuthExchangeCode.expires_at > now,
        )
        .values(used_at=now)
        .returning(OAuthExchangeCode.user_id, OAuthExchangeCode.provider)
        .execution_options(synchronize_session=False)
    )
    row = (await session.execute(stmt)).first()
    return (row[0], row[1]) if row is not None else None


async def delete_stale_oauth_rows(
    session: AsyncSession, *, now: datetime, used_before: datetime
) -> int:
    """Returned states past their expiry, and exchange codes expired or used."""
    states = await session.execute(delete(OAuthState).where(OAuthState.expires_at < now))
    codes = await session.execute(
        delete(OAuthExchangeCode).where(
            or_(OAuthExchangeCode.expires_at < now, OAuthExchangeCode.used_at < used_before)
        )
    )
    return int(states.rowcount or 0) + int(codes.rowcount or 0)  # type: ignore[attr-defined]
