"""``tasks.search_text``: filled for rows that existed before migration 0007, kept in step
with edits afterwards."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from campus.config import Settings
from campus.db import create_engine
from campus.migrations import runner
from tests.conftest import PG_ADMIN_URL, _create_pg_database, _drop_pg_database
from tests.tasks.helpers import URL, list_ids, post_task, user_with_headers


async def test_migration_backfills_search_text(tmp_path: Path, settings: Settings) -> None:
    if PG_ADMIN_URL:
        url = await _create_pg_database(PG_ADMIN_URL)
    else:
        url = f"sqlite+aiosqlite:///{tmp_path}/backfill.db"
    target = Settings(env="test", database_url=url)
    try:
        await asyncio.to_thread(runner.upgrade, target, "0006_courses_search")
        engine = create_engine(target)
        try:
            async with engine.begin() as conn:
                # Raw SQL: the ORM model has columns later migrations add (users' mail
                # preferences, 0010), which a 0006 schema does not have.
                await conn.execute(
                    text(
                        "INSERT INTO users (email, full_name, role, password_hash, is_active,"
                        " is_verified, created_at, updated_at) VALUES ('old@backfill.test',"
                        " 'Old', 'student', 'x', true, true, CURRENT_TIMESTAMP,"
                        " CURRENT_TIMESTAMP)"
                    )
                )
                await conn.execute(
                    text(
                        "INSERT INTO tasks (owner_id, title, description, status, priority,"
                        " created_at, updated_at) SELECT id, 'ÜBUNG Eins', 'Straße', 'todo',"
                        " 'medium', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP FROM users"
                    )
                )
            await asyncio.to_thread(runner.upgrade, target, "head")
            async with engine.connect() as conn:
                folded = (await conn.execute(text("SELECT search_text FROM tasks"))).scalar_one()
            assert folded == "übung eins\nstrasse"
        finally:
            await engine.dispose()
    finally:
        if PG_ADMIN_URL:
            await _drop_pg_database(PG_ADMIN_URL, url)


async def test_search_follows_edits(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    _, headers = await user_with_headers(session, settings)
    task = await post_task(client, headers, title="Old words", description="first note")
    url = f"{URL}/{task['id']}"
    await client.patch(url, json={"title": "Neue WÖRTER"}, headers=headers)
    assert await list_ids(client, headers, q="old") == []
    assert await list_ids(client, headers, q="wörter") == [task["id"]]
    assert await list_ids(client, headers, q="first") == [task["id"]]
    await client.put(url, json={"title": "Neue WÖRTER"}, headers=headers)  # description reset
    assert await list_ids(client, headers, q="first") == []
    await client.patch(url, json={"description": "Zweite NOTIZ"}, headers=headers)
    assert await list_ids(client, headers, q="notiz") == [task["id"]]
