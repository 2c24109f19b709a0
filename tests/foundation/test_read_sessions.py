"""A request that only reads runs without an explicit transaction on PostgreSQL."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import event, select, text

from campus.config import Settings
from campus.db import Database, unit_of_work
from campus.kit.aftercommit import after_commit
from campus.models.accounts import User, UserRole

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


async def test_a_read_unit_of_work_commits_only_pending_changes(settings: Settings) -> None:
    """An autocommit unit of work skips the (empty) commit of a read, but still flushes and
    commits ORM changes a safe-method handler left pending, and runs after-commit work."""
    database = Database(settings)
    commits: list[str] = []
    ran: list[str] = []
    try:
        async with database.read_sessionmaker() as session:
            event.listen(session.sync_session, "after_commit", lambda _s: commits.append("c"))
            async with unit_of_work(session, autocommit=True):
                await session.execute(text("SELECT 1"))
                after_commit(session, lambda: ran.append("read"))
        assert (commits, ran) == ([], ["read"])

        email = f"uow-{uuid.uuid4().hex[:8]}@example.test"
        async with database.read_sessionmaker() as session:
            event.listen(session.sync_session, "after_commit", lambda _s: commits.append("c"))
            async with unit_of_work(session, autocommit=True):
                session.add(User(email=email, full_name="Pending", role=UserRole.STUDENT))
        assert commits == ["c"]
        async with database.sessionmaker() as session:
            stored = await session.scalar(select(User).where(User.email == email))
            assert stored is not None
            await session.delete(stored)
            await session.commit()
    finally:
        await database.dispose()
