"""The "last used" write never holds a request up: a session row locked by another
transaction (PostgreSQL: ``SKIP LOCKED``) or a database another writer holds (SQLite: the
busy error is swallowed) leaves ``last_used_at`` for the next request, and the request
itself answers at once. Real commits, real second connection."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from campus.config import Settings
from campus.db import WRITE_TRANSACTION
from campus.kit.clock import utcnow
from campus.main import create_app
from campus.models.accounts import AuthSession
from tests.accounts.conftest import bearer, login
from tests.conftest import truncate_all
from tests.factories import DEFAULT_PASSWORD, create_user


@pytest.fixture
async def quick_client(settings: Settings, engine: AsyncEngine) -> AsyncIterator[httpx.AsyncClient]:
    """A client whose requests commit, on an app that waits 300 ms at most for SQLite."""
    app = create_app(settings.model_copy(update={"sqlite_busy_timeout_ms": 300}))
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c
    finally:
        await app.state.database.dispose()
        await truncate_all(engine)


async def _last_used(engine: AsyncEngine, session_id: str) -> object:
    async with AsyncSession(engine) as db:
        stmt = select(AuthSession.last_used_at).where(AuthSession.id == session_id)
        return (await db.execute(stmt)).scalar_one()


async def test_a_held_session_row_does_not_hold_the_request(
    quick_client: httpx.AsyncClient, engine: AsyncEngine, settings: Settings
) -> None:
    async with AsyncSession(engine, expire_on_commit=False) as db:
        user = await create_user(db, settings)
        await db.commit()
    tokens = (await login(quick_client, user.email, DEFAULT_PASSWORD)).json()
    [item] = (await quick_client.get("/api/v1/auth/sessions", headers=bearer(tokens))).json()[
        "items"
    ]
    long_ago = utcnow() - timedelta(minutes=10)
    async with AsyncSession(engine) as db:
        await db.execute(
            update(AuthSession).where(AuthSession.id == item["id"]).values(last_used_at=long_ago)
        )
        await db.commit()
    before = await _last_used(engine, item["id"])

    async with engine.connect() as holder:
        if engine.dialect.name == "postgresql":
            await holder.execute(
                text("SELECT id FROM auth_sessions WHERE id = :id FOR UPDATE"), {"id": item["id"]}
            )
        else:  # a writer holding the database: BEGIN IMMEDIATE, as every write request does
            await holder.execution_options(**WRITE_TRANSACTION)
            await holder.execute(text("SELECT 1"))
        started = time.monotonic()
        response = await asyncio.wait_for(
            quick_client.get("/api/v1/auth/me", headers=bearer(tokens)), timeout=10
        )
        elapsed = time.monotonic() - started
        assert response.status_code == 200
        assert elapsed < 3, elapsed  # SQLite: one busy wait (300 ms); PostgreSQL: none
        await holder.rollback()
    assert await _last_used(engine, item["id"]) == before  # left for the next request
    assert (await quick_client.get("/api/v1/auth/me", headers=bearer(tokens))).status_code == 200
    after = await _last_used(engine, item["id"])
    assert after != before
