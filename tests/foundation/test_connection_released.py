"""connection_released: a slow step without the database gives the connection back."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text

from campus.config import Settings
from campus.db import Database, connection_released
from campus.models.accounts import User


def _checked_out(database: Database) -> int:
    return int(database.engine.pool.checkedout())  # type: ignore[attr-defined]


async def test_the_connection_is_back_in_the_pool_during_the_block(settings: Settings) -> None:
    database = Database(settings)
    try:
        async with database.session() as session:
            count = (await session.execute(select(func.count()).select_from(User))).scalar_one()
            assert _checked_out(database) == 1
            async with connection_released(session):
                assert _checked_out(database) == 0  # free for other requests meanwhile
            assert _checked_out(database) == 1  # the unit of work goes on
            again = (await session.execute(select(func.count()).select_from(User))).scalar_one()
            assert again == count
    finally:
        await database.dispose()


async def _write_then_release(database: Database) -> None:
    async with database.session() as session:
        session.add(User(email="early@example.com", full_name="Early", password_hash="x"))
        await session.flush()
        async with connection_released(session):
            pass  # pragma: no cover - never reached


async def test_refused_after_a_write_so_nothing_is_committed_early(settings: Settings) -> None:
    database = Database(settings)
    try:
        with pytest.raises(RuntimeError):
            await _write_then_release(database)
        async with database.session() as session:
            stored = await session.execute(
                text("SELECT count(*) FROM users WHERE email = 'early@example.com'")
            )
            assert stored.scalar_one() == 0  # the failed unit of work rolled back
    finally:
        await database.dispose()
