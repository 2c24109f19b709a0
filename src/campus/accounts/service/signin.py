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
from campus.errors import Conflict, Forbidden, Unauthenticated
from campus.models.accounts import User, UserRole
from campus.ratelimit import RateLimiter

INVALID_CREDENTIALS = "Incorrect email or password."


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
