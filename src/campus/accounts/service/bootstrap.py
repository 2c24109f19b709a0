"""Users made by commands rather than by people: the admin (``campus create-admin``) and
the demo users (``campus demo``)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from campus.accounts import repository
from campus.accounts.hashing import get_passwords
from campus.accounts.service.passwords import require_policy, set_password
from campus.accounts.service.sessions import end_all_sessions
from campus.config import Settings
from campus.models.accounts import User, UserRole


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
    require_policy(password, email=email, loc=["password"])
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
    await set_password(session, user, password_hash=password_hash)
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
