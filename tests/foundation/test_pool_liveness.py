"""Without pre-ping, a pooled connection the server closed is replaced at checkout."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text

from campus.config import Settings
from campus.db import create_engine

pytestmark = pytest.mark.postgres_only


async def test_connection_closed_by_the_server_is_replaced(settings: Settings) -> None:
    assert settings.db_pool_pre_ping is False
    engine = create_engine(settings, pool_size=1, max_overflow=0)
    killer = create_engine(settings, pool_size=1, max_overflow=0)
    try:
        async with engine.connect() as conn:
            pid = (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        async with killer.connect() as other:
            await other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        await asyncio.sleep(0.2)  # the driver marks the socket closed once it reads the EOF
        # No error although the pooled connection is dead: the checkout check replaced it.
        async with engine.connect() as conn:
            new_pid = (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        assert new_pid != pid
    finally:
        await engine.dispose()
        await killer.dispose()
