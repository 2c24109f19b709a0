"""Accounts: registration, sign-in sessions, token rotation, who is asking, password
changes and resets, email verification, and the admin's user management."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from campus.accounts import repository
from campus.accounts.passwords import get_passwords
from campus.accounts.policy import password_problem
from campus.accounts.schemas import MeUpdate, TokenPair, UserCreate, UserUpdate
from campus.accounts.tokens import decode_token, encode_token, new_token_id
from campus.config import Settings
from campus.db import connection_released
from campus.email import render_email, send_after_commit
from campus.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    Unauthenticated,
    ValidationFailed,
)
from campus.kit.clock import utcnow
from campus.kit.pagination import PageParams, PageResult, paginate
from campus.models.accounts import AccountTokenPurpose, AuthSession, User, UserRole
from campus.ratelimit import RateLimiter

INVALID_CREDENTIALS = "Incorrect email or password."
INVALID_LINK = "This link is invalid, has already been used or has expired."
# At most this many password-reset mails per account and hour, whoever asks (silently:
# the endpoint answers 202 either way), so nobody can flood an inbox.
RESET_MAILS_PER_ACCOUNT = "5/hour"


@dataclass(frozen=True, slots=True)
class AuthContext:
    """Who is asking, and through which sign-in session."""

    user: User
    session_id: str


async def register_user(
    session: AsyncSession,
    settings: Settings,
    *,
    data: UserCreate,
    role: UserRole = UserRole.STUDENT,
) -> User:
    """Create a user; a duplicate email (any case) is a 409, also under concurrency."""
    email = str(data.email)
    if await repository.get_user_by_email(session, email) is not None:
        raise Conflict("An account with this email already exists.", code="email-taken")
    async with connection_released(session):
        password_hash = await get_passwords(settings).hash(data.password)
    user = User(email=email, full_name=data.full_name, role=role, password_hash=password_hash)
    try:
        async with session.begin_nested():
            session.add(user)
    except IntegrityError as exc:
        raise Conflict("An account with this email already exists.", code="email-taken") from exc
    await send_verification_email(session, settings, user)
    return user


async def start_session(
    session: AsyncSession,
    settings: Settings,
    user: User,
    *,
    user_agent: str | None = None,
    ip: str | None = None,
) -> TokenPair:
    """Open a sign-in session (a family of rotating refresh tokens) and issue its tokens."""
    auth_session = await _open_session(
        session,
        settings,
        user,
        id=secrets.token_urlsafe(24),
        kind="api",
        refresh_token_id=new_token_id(),
        user_agent=user_agent,
        ip=ip,
    )
    return issue_tokens(settings, auth_session)


async def _open_session(
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
) -> AuthSession:
    """Insert a sign-in session row (API token family or web cookie), valid for the
    refresh-token lifetime, remembering the client's user agent and address."""
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
    return auth_session


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


async def authenticate_password(
    session: AsyncSession,
    settings: Settings,
    *,
    email: str,
    password: str,
    limiter: RateLimiter | None = None,
    ip: str | None = None,
) -> User:
    """Check an email and password. Unknown email and wrong password cost the same time.

    With a ``limiter``, failed attempts are counted per email (known or not) and per IP
    (``CAMPUS_RATE_LIMIT_LOGIN_FAILURES``); once either is used up, sign-in answers 429
    without checking the password. A success resets no counter: failures age out.
    """
    email = email.strip().lower()
    limit = settings.rate_limit_login_failures
    if limiter is not None:
        await limiter.check(limit, "login-email", email)
        if ip:
            await limiter.check(limit, "login-ip", ip)
    user = await repository.get_user_by_email(session, email)
    async with connection_released(session):
        valid, new_hash = await get_passwords(settings).verify_and_update(
            password, user.password_hash if user else None
        )
    if user is None or not valid:
        if limiter is not None:
            await limiter.count(limit, "login-email", email)
            if ip:
                await limiter.count(limit, "login-ip", ip)
        raise Unauthenticated(INVALID_CREDENTIALS, code="invalid-credentials")
    if not user.is_active:
        raise Forbidden("This account is disabled.", code="account-disabled")
    if new_hash is not None:
        user.password_hash = new_hash
    return user


async def auth_from_access_token(
    session: AsyncSession, settings: Settings, token: str
) -> AuthContext:
    """The user and session of a valid access token whose session is still live, else 401."""
    claims = decode_token(settings, token, expected="access")
    user = await repository.get_live_session_user(
        session, session_id=claims.session_id, user_id=claims.user_id, now=utcnow()
    )
    if user is None:
        raise Unauthenticated("Invalid or expired token.")
    return AuthContext(user=user, session_id=claims.session_id)


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
    await repository.revoke_sessions(
        session, user_id=user_id, now=utcnow(), except_session_id=except_session_id
    )


# --- passwords -------------------------------------------------------------------------


def _require_policy(password: str, *, email: str, loc: list[str | int]) -> None:
    problem = password_problem(password, email=email)
    if problem is not None:
        raise ValidationFailed.field(loc, problem)


async def _set_password(session: AsyncSession, user: User, *, password_hash: str) -> None:
    """Store a password hashed beforehand (hash before the unit of work writes anything,
    inside ``connection_released``, so no connection waits on Argon2)."""
    user.password_hash = password_hash
    await repository.retire_account_tokens(
        session, user_id=user.id, purpose=AccountTokenPurpose.PASSWORD_RESET, now=utcnow()
    )


async def update_me(
    session: AsyncSession,
    settings: Settings,
    actor: User,
    *,
    data: MeUpdate,
    current_session_id: str | None,
    limiter: RateLimiter | None = None,
) -> User:
    """Change one's own name and/or password.

    A new password needs the current one (missing: 422, wrong: 403; wrong ones count as
    failed sign-ins) and ends every *other* session of the user; the one in use stays.
    """
    changes = data.model_dump(exclude_unset=True)
    if "password" in changes:
        new_password = str(changes["password"])
        current = changes.get("current_password")
        if not current:
            raise ValidationFailed.field(
                ["body", "current_password"], "current_password is required to change the password"
            )
        _require_policy(new_password, email=actor.email, loc=["body", "password"])
        limit = settings.rate_limit_login_failures
        if limiter is not None:
            await limiter.check(limit, "login-email", actor.email)
        passwords = get_passwords(settings)
        new_hash = None
        async with connection_released(session):
            valid, _ = await passwords.verify_and_update(current, actor.password_hash)
            if valid:
                new_hash = await passwords.hash(new_password)
        if new_hash is None:
            if limiter is not None:
                await limiter.count(limit, "login-email", actor.email)
            raise Forbidden("The current password is not correct.", code="wrong-password")
        await _set_password(session, actor, password_hash=new_hash)
        await end_all_sessions(session, user_id=actor.id, except_session_id=current_session_id)
    if "full_name" in changes:
        actor.full_name = str(changes["full_name"])
    await session.flush()
    return actor


# --- single-use tokens by mail (password reset, email verification) --------------------


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def _describe(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes % 60:
        return f"{minutes} minutes"
    hours = minutes // 60
    return "1 hour" if hours == 1 else f"{hours} hours"


async def _mail_link(
    session: AsyncSession,
    settings: Settings,
    user: User,
    *,
    purpose: AccountTokenPurpose,
    lifetime: timedelta,
    path: str,
    template: str,
) -> None:
    token = secrets.token_urlsafe(32)
    await repository.add_account_token(
        session,
        user_id=user.id,
        purpose=purpose,
        token_hash=_hash_token(token),
        expires_at=utcnow() + lifetime,
    )
    message = render_email(
        template,
        to=user.email,
        context={
            "full_name": user.full_name,
            "link": f"{settings.base_url}{path}?token={token}",
            "valid_for": _describe(lifetime),
            "base_url": settings.base_url,
        },
    )
    send_after_commit(session, settings, message)


async def send_verification_email(session: AsyncSession, settings: Settings, user: User) -> None:
    """Mail the user a link confirming their address (sent once the request commits)."""
    await _mail_link(
        session,
        settings,
        user,
        purpose=AccountTokenPurpose.VERIFY_EMAIL,
        lifetime=timedelta(hours=settings.email_verification_hours),
        path="/verify-email",
        template="accounts/verify_email",
    )


async def resend_verification_email(session: AsyncSession, settings: Settings, actor: User) -> None:
    """Send a fresh verification link (earlier ones stop working); nothing if verified."""
    if actor.is_verified:
        return
    await repository.retire_account_tokens(
        session, user_id=actor.id, purpose=AccountTokenPurpose.VERIFY_EMAIL, now=utcnow()
    )
    await send_verification_email(session, settings, actor)


async def request_password_reset(
    session: AsyncSession, settings: Settings, *, email: str, limiter: RateLimiter | None = None
) -> None:
    """Mail a reset link if an active account has this email. The caller always says 202."""
    user = await repository.get_user_by_email(session, email.strip().lower())
    if user is None or not user.is_active:
        return
    if limiter is not None and not await limiter.allow(
        RESET_MAILS_PER_ACCOUNT, "reset-mail", user.email
    ):
        return
    await _mail_link(
        session,
        settings,
        user,
        purpose=AccountTokenPurpose.PASSWORD_RESET,
        lifetime=timedelta(minutes=settings.password_reset_minutes),
        path="/reset-password",
        template="accounts/password_reset",
    )


async def _redeem(
    session: AsyncSession, *, token: str, purpose: AccountTokenPurpose
) -> tuple[int, User]:
    """The token's row id and user, if the token is valid, unused and unexpired; else 400."""
    row = await repository.get_account_token(
        session, token_hash=_hash_token(token), purpose=purpose
    )
    if row is None or row.used_at is not None or row.expires_at <= utcnow():
        raise BadRequest(INVALID_LINK, code="invalid-token")
    user = await repository.get_user(session, row.user_id)
    if user is None or not user.is_active:
        raise BadRequest(INVALID_LINK, code="invalid-token")
    return row.id, user


async def _consume(session: AsyncSession, token_id: int) -> None:
    if not await repository.consume_account_token(session, token_id=token_id, now=utcnow()):
        raise BadRequest(INVALID_LINK, code="invalid-token")


async def reset_password(
    session: AsyncSession, settings: Settings, *, token: str, new_password: str
) -> User:
    """Set a new password with a mailed token: single use; every session of the user ends."""
    token_id, user = await _redeem(session, token=token, purpose=AccountTokenPurpose.PASSWORD_RESET)
    _require_policy(new_password, email=user.email, loc=["body", "new_password"])
    async with connection_released(session):
        new_hash = await get_passwords(settings).hash(new_password)
    await _consume(session, token_id)  # atomic: a token used meanwhile is refused here
    await _set_password(session, user, password_hash=new_hash)
    # The mail reached the owner of the address: that verifies it too.
    user.is_verified = True
    await end_all_sessions(session, user_id=user.id)
    await session.flush()
    return user


async def verify_email(session: AsyncSession, settings: Settings, *, token: str) -> User:
    """Confirm the user's address with a mailed token (single use)."""
    del settings
    token_id, user = await _redeem(session, token=token, purpose=AccountTokenPurpose.VERIFY_EMAIL)
    await _consume(session, token_id)
    user.is_verified = True
    await session.flush()
    return user


# --- admin: user management -------------------------------------------------------------


def _require_admin(actor: User) -> None:
    if actor.role != UserRole.ADMIN:
        raise Forbidden("Only admins manage users.")


async def list_users(
    session: AsyncSession,
    actor: User,
    *,
    params: PageParams,
    role: UserRole | None = None,
    is_active: bool | None = None,
    q: str | None = None,
) -> PageResult[User]:
    _require_admin(actor)
    return await paginate(
        session,
        repository.users_query(role=role, is_active=is_active, q=q),
        params,
        sort_columns=repository.USER_SORT_COLUMNS,
        tie_breaker=repository.USER_TIE_BREAKER,
        count_stmt=repository.users_total(role=role, is_active=is_active, q=q),
    )


async def get_user(session: AsyncSession, actor: User, *, user_id: int) -> User:
    _require_admin(actor)
    user = await repository.get_user(session, user_id)
    if user is None:
        raise NotFound("No such user.")
    return user


async def _ensure_another_admin_remains(session: AsyncSession, user: User) -> None:
    """409 if ``user`` is the last active admin (checked under a lock on the admin rows)."""
    admins = await repository.lock_active_admin_ids(session)
    if not any(admin_id != user.id for admin_id in admins):
        raise Conflict(
            "This is the last active admin; make another user an admin first.",
            code="last-admin",
        )


async def update_user(
    session: AsyncSession, actor: User, *, user_id: int, data: UserUpdate
) -> User:
    """Change a user's name, role or active flag; deactivating ends their sessions."""
    user = await get_user(session, actor, user_id=user_id)
    changes = data.model_dump(exclude_unset=True)
    stays_admin = changes.get("role", user.role) == UserRole.ADMIN and changes.get(
        "is_active", user.is_active
    )
    if user.role == UserRole.ADMIN and user.is_active and not stays_admin:
        await _ensure_another_admin_remains(session, user)
    if "full_name" in changes:
        user.full_name = changes["full_name"]
    if "role" in changes:
        user.role = UserRole(changes["role"])
    if "is_active" in changes:
        was_active = user.is_active
        user.is_active = bool(changes["is_active"])
        if was_active and not user.is_active:
            await end_all_sessions(session, user_id=user.id)
    await session.flush()
    return user


async def delete_user(session: AsyncSession, actor: User, *, user_id: int) -> None:
    """Delete a user and what is theirs. Not the last active admin, nor a course's teacher."""
    user = await get_user(session, actor, user_id=user_id)
    if user.role == UserRole.ADMIN and user.is_active:
        await _ensure_another_admin_remains(session, user)
    has_courses = Conflict(
        "This user still teaches courses; give the courses to another teacher or delete "
        "them first.",
        code="user-has-courses",
    )
    if await repository.teaches_courses(session, user.id):
        raise has_courses
    try:
        async with session.begin_nested():
            await repository.delete_user(session, user)
    except IntegrityError as exc:  # a course created meanwhile (ON DELETE RESTRICT)
        raise has_courses from exc


async def ensure_admin(
    session: AsyncSession,
    settings: Settings,
    *,
    email: str,
    password: str,
    full_name: str | None = None,
) -> tuple[User, bool]:
    """Create an admin, or promote, re-activate and re-password an existing user.

    Returns ``(user, created)``. Safe to run again; an existing user's sessions end,
    since their password changed.
    """
    email = email.strip().lower()
    _require_policy(password, email=email, loc=["password"])
    password_hash = await get_passwords(settings).hash(password)  # before the row lock
    user = await repository.get_user_by_email(session, email, for_update=True)
    if user is None:
        user = User(
            email=email,
            full_name=full_name or "Administrator",
            role=UserRole.ADMIN,
            password_hash=password_hash,
            is_active=True,
            is_verified=True,
        )
        session.add(user)
        await session.flush()
        return user, True
    user.role = UserRole.ADMIN
    user.is_active = True
    if full_name:
        user.full_name = full_name
    await _set_password(session, user, password_hash=password_hash)
    await end_all_sessions(session, user_id=user.id)
    await session.flush()
    return user, False


async def ensure_demo_user(
    session: AsyncSession,
    settings: Settings,
    *,
    email: str,
    password: str,
    full_name: str,
    role: UserRole,
) -> User:
    """The demo user with this email, created (verified, active) if absent; left as is else."""
    user = await repository.get_user_by_email(session, email)
    if user is not None:
        return user
    user = User(
        email=email,
        full_name=full_name,
        role=role,
        password_hash=await get_passwords(settings).hash(password),
        is_active=True,
        is_verified=True,
    )
    session.add(user)
    await session.flush()
    return user


# --- Web (cookie) sessions for the server-rendered pages -------------------------------------
#
# The browser holds an opaque random id; the table keeps only its SHA-256, so a leaked
# database row cannot be replayed as a cookie. Each sign-in gets a new id and a new CSRF
# secret. ``end_all_sessions`` (deactivation, password change) ends web sessions too.

WEB_SESSION_ID_BYTES = 32


def web_session_key(cookie_value: str) -> str:
    """The stored id of a web session: the SHA-256 of the cookie value (64 hex chars)."""
    return hashlib.sha256(cookie_value.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True, slots=True)
class WebSession:
    cookie_value: str
    auth_session: AuthSession


async def start_web_session(
    session: AsyncSession,
    settings: Settings,
    user: User,
    *,
    user_agent: str | None = None,
    ip: str | None = None,
) -> WebSession:
    """Open a cookie session for ``user``; the caller sets ``cookie_value`` as the cookie."""
    cookie_value = secrets.token_urlsafe(WEB_SESSION_ID_BYTES)
    auth_session = await _open_session(
        session,
        settings,
        user,
        id=web_session_key(cookie_value),
        kind="web",
        csrf_secret=secrets.token_urlsafe(32),
        user_agent=user_agent,
        ip=ip,
    )
    return WebSession(cookie_value=cookie_value, auth_session=auth_session)


async def user_from_web_session(
    session: AsyncSession, *, cookie_value: str
) -> tuple[AuthSession, User] | None:
    """The live web session of a cookie and its active user, or None (never raises)."""
    if not cookie_value or len(cookie_value) > 128:
        return None
    return await repository.get_live_web_session(
        session, session_id=web_session_key(cookie_value), now=utcnow()
    )


async def end_web_session(session: AsyncSession, *, cookie_value: str) -> None:
    """Log a browser out: its session stops working at once. Unknown ids are ignored."""
    if not cookie_value or len(cookie_value) > 128:
        return
    auth_session = await repository.get_auth_session(session, web_session_key(cookie_value))
    if auth_session is not None and auth_session.kind == "web" and auth_session.revoked_at is None:
        auth_session.revoked_at = utcnow()
        await session.flush()
