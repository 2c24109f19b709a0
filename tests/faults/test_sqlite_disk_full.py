"""SQLite out of space: a clear 503 problem, nothing half-written, the database intact.

The disk is "full" through ``PRAGMA max_page_count`` on every connection of the app's
engine: SQLite then fails a write that needs another page with ``SQLITE_FULL`` ("database
or disk is full"), exactly the error of a full file system, without needing root to make
a tiny one.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import event

from campus.config import Settings
from campus.main import create_app
from campus.migrations import runner
from tests.faults.load import sign_up


async def test_disk_full_is_503_and_the_database_stays_intact(
    settings: Settings, tmp_path: Path
) -> None:
    path = tmp_path / "full.db"
    url = f"sqlite+aiosqlite:///{path}"
    await asyncio.to_thread(
        runner.upgrade, settings.model_copy(update={"database_url": url}), "head"
    )
    app = create_app(settings.model_copy(update={"database_url": url}))
    limit: dict[str, int] = {"pages": 0}

    @event.listens_for(app.state.database.engine.sync_engine, "connect")
    def _cap(dbapi_connection: Any, _record: Any) -> None:
        if limit["pages"]:
            cursor = dbapi_connection.cursor()
            cursor.execute(f"PRAGMA max_page_count={limit['pages']}")
            cursor.close()

    transport = httpx.ASGITransport(app=app)
    acknowledged: list[int] = []
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            headers = await sign_up(c)
            await app.state.database.engine.dispose()  # new connections get the cap
            with sqlite3.connect(path) as raw:
                limit["pages"] = raw.execute("PRAGMA page_count").fetchone()[0] + 8
            full = None
            for number in range(400):
                response = await c.post(
                    "/api/v1/tasks",
                    json={"title": f"task {number}", "description": "x" * 2000},
                    headers=headers,
                )
                if response.status_code == 201:
                    acknowledged.append(response.json()["id"])
                    continue
                full = response
                break
            assert full is not None, "the capped database never filled up"
            assert full.status_code == 503, full.text
            assert full.headers["content-type"].startswith("application/problem+json")
            assert full.headers["retry-after"] == "60"
            body = full.json()
            assert body["type"] == "/problems/storage-full"
            assert "storage" in body["detail"]
            assert "SQL" not in body["detail"]
            assert acknowledged, "nothing fitted before the database was full"

            # Reads still work while full.
            listed = await c.get("/api/v1/tasks", params={"limit": 100}, headers=headers)
            assert listed.status_code == 200
            assert listed.json()["total"] == len(acknowledged)

            # Space again (the cap lifted): writes work without a restart.
            limit["pages"] = 0
            await app.state.database.engine.dispose()
            again = await c.post("/api/v1/tasks", json={"title": "after"}, headers=headers)
            assert again.status_code == 201
            acknowledged.append(again.json()["id"])
    finally:
        await app.state.database.dispose()

    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert raw.execute("PRAGMA foreign_key_check").fetchall() == []
        ids = {row[0] for row in raw.execute("SELECT id FROM tasks")}
    assert ids == set(acknowledged)
