"""Plain async factories for tests: real rows through the real services."""

from __future__ import annotations

import itertools
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from campus.accounts import service as accounts_service
from campus.accounts.passwords import get_passwords
from campus.config import Settings
from campus.models import User, UserRole

_counter = itertools.count(1)
DEFAULT_PASSWORD = "correct-horse-battery-staple"


def unique_email(prefix: str = "user") -> str:
    return f"{prefix}{next(_counter)}-{id(_counter)}@example.test"


async def create_user(
    session: AsyncSession,
    settings: Settings,
    *,
    role: UserRole | str = UserRole.STUDENT,
    email: str | None = None,
    password: str = DEFAULT_PASSWORD,
    full_name: str | None = None,
    is_active: bool = True,
    is_verified: bool = True,
    **extra: Any,
) -> User:
    user = User(
        email=(email or unique_email(str(role))).lower(),
        full_name=full_name or f"Test {str(role).title()}",
        role=UserRole(role),
        password_hash=await get_passwords(settings).hash(password),
        is_active=is_active,
        is_verified=is_verified,
        **extra,
    )
    session.add(user)
    await session.flush()
    return user


async def auth_headers(session: AsyncSession, settings: Settings, user: User) -> dict[str, str]:
    """Bearer headers of a fresh sign-in session for ``user``."""
    tokens = await accounts_service.start_session(session, settings, user)
    await session.flush()
    return {"Authorization": f"Bearer {tokens.access_token}"}
