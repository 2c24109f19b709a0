"""Only the database server's faults become 503s: the request's own errors do not."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import exc, text
from sqlalchemy.ext.asyncio import AsyncConnection

from campus.config import Settings
from campus.db import DatabaseFault, database_fault
from campus.main import create_app


@pytest.mark.parametrize(
    "statement",
    [
        "SELECT no_such_column FROM users",  # a bug: programming error
        "INSERT INTO row_counts (name, value) VALUES (NULL, 1)",  # integrity
        "SELEC 1",  # syntax
    ],
)
async def test_request_errors_are_not_database_faults(
    connection: AsyncConnection, statement: str
) -> None:
    async with connection.begin_nested() as savepoint:
        with pytest.raises(exc.DBAPIError) as raised:
            await connection.execute(text(statement))
        await savepoint.rollback()
    assert database_fault(raised.value) is None
    assert not raised.value.connection_invalidated


async def test_a_duplicate_key_is_not_a_database_fault(connection: AsyncConnection) -> None:
    async with connection.begin_nested() as savepoint:
        name = (await connection.execute(text("SELECT name FROM row_counts LIMIT 1"))).scalar()
        with pytest.raises(exc.IntegrityError) as raised:
            await connection.execute(
                text("INSERT INTO row_counts (name, value) VALUES (:n, 0)"), {"n": name}
            )
        await savepoint.rollback()
    assert database_fault(raised.value) is None


@pytest.mark.postgres_only
async def test_data_errors_on_postgres_are_not_database_faults(
    connection: AsyncConnection,
) -> None:
    async with connection.begin_nested() as savepoint:
        with pytest.raises(exc.DBAPIError) as raised:
            await connection.execute(text("SELECT 1 / 0"))
        await savepoint.rollback()
    assert database_fault(raised.value) is None


def test_non_database_errors_are_not_faults() -> None:
    assert database_fault(ConnectionRefusedError()) is None  # not raised by the engine
    assert database_fault(ValueError("x")) is None
    assert DatabaseFault("unavailable") is DatabaseFault.UNAVAILABLE


def _app_raising(settings: Settings, error: Exception) -> FastAPI:
    app = create_app(settings)

    async def fail() -> None:
        raise error

    app.add_api_route("/api/v1/_fault", fail)
    app.add_api_route("/_fault", fail)
    return app


async def _get(app: FastAPI, path: str, **kw: Any) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        return await c.get(path, **kw)


async def test_a_lost_connection_maps_to_503_and_an_integrity_error_stays_500(
    settings: Settings,
) -> None:
    lost = exc.OperationalError("SELECT 1", {}, ConnectionResetError(), connection_invalidated=True)
    app = _app_raising(settings, lost)
    api = await _get(app, "/api/v1/_fault")
    page = await _get(app, "/_fault", headers={"Accept": "text/html"})
    await app.state.database.dispose()
    assert api.status_code == 503
    assert api.headers["retry-after"] == "2"
    assert api.json()["type"] == "/problems/database-unavailable"
    assert "SELECT" not in api.text
    assert page.status_code == 503
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["retry-after"] == "2"

    duplicate = exc.IntegrityError("INSERT", {}, Exception("duplicate key"))
    app = _app_raising(settings, duplicate)
    answer = await _get(app, "/api/v1/_fault")
    await app.state.database.dispose()
    assert answer.status_code == 500
    assert answer.json()["type"] == "/problems/internal-error"
    assert "duplicate" not in answer.text
