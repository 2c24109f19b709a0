"""A request that only reads runs without an explicit transaction on PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from campus.config import Settings
from campus.db import Database

pytestmark = pytest.mark.postgres_only


async def _in_transaction_after_a_query(database: Database, *, read: bool) -> bool:
    maker = database.read_sessionmaker if read else database.sessionmaker
    async with maker() as session:
        await session.execute(text("SELECT 1"))
        raw = await (await session.connection()).get_raw_connection()
        in_transaction: bool = raw.driver_connection.is_in_transaction()
        return in_transaction


async def test_read_sessions_autocommit_and_write_sessions_do_not(settings: Settings) -> None:
    database = Database(settings)
    try:
        assert await _in_transaction_after_a_query(database, read=True) is False
        assert await _in_transaction_after_a_query(database, read=False) is True
        # The two makers share one pool: a read does not hold connections of its own.
        assert database.read_sessionmaker.kw["bind"].sync_engine.pool is database.engine.pool
    finally:
        await database.dispose()
