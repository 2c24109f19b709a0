"""``driverreads.attach_loaded``: a row's columns become the persistent entity a query
would have returned (the sign-in check of every request relies on it)."""

from __future__ import annotations

from sqlalchemy import inspect, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from campus.config import Settings
from campus.kit.driverreads import attach_loaded, fetch_rows, loaded_columns
from campus.models.accounts import User, UserRole
from tests.factories import create_user
from tests.sqlcount import count_statements


async def _row(session: AsyncSession, user_id: int) -> tuple[object, ...]:
    stmt = select(*loaded_columns(User)).where(User.id == user_id)
    rows = await fetch_rows(await session.connection(), stmt, {})
    return tuple(rows[0])


async def test_attached_entity_is_what_a_query_loads(
    session: AsyncSession, connection: AsyncConnection, settings: Settings
) -> None:
    made = await create_user(session, settings, role=UserRole.TEACHER, full_name="Ada Lovelace")
    await session.commit()
    async with AsyncSession(bind=connection, expire_on_commit=False) as fresh:
        row = await _row(fresh, made.id)
        user = attach_loaded(fresh, User, row)
        state = inspect(user)
        assert state.persistent
        assert not fresh.dirty
        assert not fresh.new
        assert user.role is UserRole.TEACHER
        assert user.full_name == "Ada Lovelace"
        assert user.email == made.email
        assert user.created_at == made.created_at
        # The identity map now holds it: a query or get returns the same object, no SQL.
        assert await fresh.get(User, made.id) is user
        assert (await fresh.execute(select(User).where(User.id == made.id))).scalar_one() is user
        # Attaching the same row again returns the instance already in the session.
        assert attach_loaded(fresh, User, row) is user


async def test_a_change_to_an_attached_entity_is_flushed_alone(
    session: AsyncSession, connection: AsyncConnection, settings: Settings
) -> None:
    made = await create_user(session, settings, full_name="Before")
    await session.commit()
    async with AsyncSession(bind=connection, expire_on_commit=False) as fresh:
        user = attach_loaded(fresh, User, await _row(fresh, made.id))
        user.full_name = "After"
        with count_statements(connection) as log:
            await fresh.flush()
        updates = [s for s in log.queries if s.lstrip().upper().startswith("UPDATE")]
        assert len(updates) == 1
        assert "full_name" in updates[0]
        assert "email" not in updates[0].split("WHERE")[0]
    stored = (await session.execute(select(User.full_name).where(User.id == made.id))).scalar()
    assert stored == "After"
