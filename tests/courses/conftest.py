"""Users of every role, ready to call the API."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from campus.config import Settings
from campus.models.accounts import User, UserRole
from tests.factories import auth_headers, create_user


@dataclass
class Actor:
    user: User
    headers: dict[str, str]

    @property
    def id(self) -> int:
        return self.user.id


async def make_actor(session: AsyncSession, settings: Settings, role: UserRole) -> Actor:
    user = await create_user(session, settings, role=role, full_name=f"{role.value.title()} X")
    return Actor(user, await auth_headers(session, settings, user))


@pytest.fixture
async def admin(session: AsyncSession, settings: Settings) -> Actor:
    return await make_actor(session, settings, UserRole.ADMIN)


@pytest.fixture
async def teacher(session: AsyncSession, settings: Settings) -> Actor:
    return await make_actor(session, settings, UserRole.TEACHER)


@pytest.fixture
async def other_teacher(session: AsyncSession, settings: Settings) -> Actor:
    return await make_actor(session, settings, UserRole.TEACHER)


@pytest.fixture
async def student(session: AsyncSession, settings: Settings) -> Actor:
    return await make_actor(session, settings, UserRole.STUDENT)
