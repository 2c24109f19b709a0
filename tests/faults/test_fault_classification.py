"""Only the database server's faults become 503s: the request's own errors do not."""

from __future__ import annotations

import pytest
from sqlalchemy import exc, text
from sqlalchemy.ext.asyncio import AsyncConnection

from campus.db import DatabaseFault, database_fault


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
