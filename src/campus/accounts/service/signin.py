"""Registration and password sign-in."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from campus.accounts import repository
from campus.accounts.hashing import get_passwords
from campus.accounts.schemas import UserCreate
from campus.accounts.service.verification import send_verification_email
from campus.config import Settings
from campus.db import connection_released
from campus.errors import Conflict, Forbidden, RateLimited, Unauthenticated
from campus.kit.i18n import N_
from campus.models.accounts import User, UserRole
from campus.ratelimit import RateLimiter

INVALID_CREDENTIALS = N_("Incorrect email or password.")
ACCOUNT_DISABLED = N_(
    "This account is disabled. If you think that is a mistake, ask an administrator of this "
    "site to enable it again."
)


async def register_user(
    session: AsyncSession,
    settings: Settings,
    *,
    data: UserCreate,
    role: UserRole = UserRole.STUDENT,
    locale: str | None = None,
) -> User:
    """Create a user; a duplicate email (any case) is a 409, also under concurrency.
    ``locale``: the language the person registered in (their pages and mails from then on)."""
    email = str(data.email)
    if await repository.get_user_by_email(session, email) is not None:
        raise Conflict(N_("An account with this email already exists."), code="email-taken")
    async with connection_released(session):
        password_hash = await get_passwords(settings).hash(data.password)
    user = User(
        email=email,
        full_name=data.full_name,
        role=role,
        password_hash=password_hash,
        locale=locale,
    )
    try:
        async with session.begin_nested():
            session.add(user)
    except IntegrityError as exc:
        raise Conflict(
            N_("An account with this email already exists."), code="email-taken"
        ) from exc
    await send_verification_email(session, settings, user)
    return user


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

    With a ``limiter``, attempts are limited per email (known or not) and per IP
    (``CAMPUS_RATE_LIMIT_LOGIN_FAILURES``). Each attempt reserves its place in both windows
    *before* the password is checked, atomically, and gives them back only when the
    password was right: so however many guesses arrive at once, at most the limit's worth
    are checked and the rest (the right password too) answer 429. A success resets no
    counter: failures age out.
    """
    email = email.strip().lower()
    limit = settings.rate_limit_login_failures
    reservations = []
    if limiter is not None:
        reservations.append(await limiter.reserve(limit, "login-email", email))
        if ip:
            try:
                reservations.append(await limiter.reserve(limit, "login-ip", ip))
            except RateLimited:
                await limiter.release(reservations[0])
                raise
    user = await repository.get_user_by_email(session, email)
    async with connection_released(session):
        valid, new_hash = await get_passwords(settings).verify_and_update(
            password, user.password_hash if user else None
        )
    if user is None or not valid:
        raise Unauthenticated(INVALID_CREDENTIALS, code="invalid-credentials")
    if limiter is not None:
        for reservation in reservations:
            await limiter.release(reservation)
    if not user.is_active:
        raise Forbidden(ACCOUNT_DISABLED, code="account-disabled")
    if new_hash is not None:
        user.password_hash = new_hash
    return user
