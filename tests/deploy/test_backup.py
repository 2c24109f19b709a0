"""Backups as docs/deploy.md runs them: ``pg_dump --format=custom`` of a Campus database and
``pg_restore`` into an empty one give the same rows, the same schema revision and working
count triggers. Throw-away databases on the test server, dropped at the end."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from campus.config import Settings
from campus.db import Database, create_engine
from campus.demo import load_demo
from campus.migrations import runner
from tests.conftest import PG_ADMIN_URL, service_unavailable

pytestmark = pytest.mark.postgres_only


def libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def _admin(statement: str) -> None:
    engine = create_engine(Settings(env="test"), url=PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(statement))
    finally:
        await engine.dispose()


@pytest.fixture
def databases() -> Iterator[tuple[str, str]]:
    for tool in ("pg_dump", "pg_restore"):
        if shutil.which(tool) is None:
            service_unavailable(f"{tool} is not installed (apt-get install postgresql-client)")
    stem = f"campus_backup_{uuid.uuid4().hex[:10]}"
    names = (f"{stem}_source", f"{stem}_restored")
    for name in names:
        asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    base = make_url(PG_ADMIN_URL)
    urls = tuple(base.set(database=n).render_as_string(hide_password=False) for n in names)
    try:
        yield urls[0], urls[1]
    finally:
        for name in names:
            asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _fingerprint(url: str) -> dict[str, tuple[int, str]]:
    """Every table's row count and an md5 of its rows in a fixed order."""
    engine = create_engine(Settings(env="test"), url=url)
    try:
        async with engine.connect() as conn:
            tables = (
                await conn.execute(
                    text(
                        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                        "ORDER BY tablename"
                    )
                )
            ).scalars()
            result = {}
            for table in list(tables):
                row = (
                    await conn.execute(
                        text(
                            f"SELECT count(*), coalesce(md5(string_agg(t::text, '|' "
                            f"ORDER BY t::text)), '') FROM \"{table}\" t"
                        )
                    )
                ).one()
                result[table] = (int(row[0]), str(row[1]))
            return result
    finally:
        await engine.dispose()


async def _load(url: str) -> None:
    database = Database(Settings(env="test", database_url=url))
    try:
        await load_demo(database)
    finally:
        await database.dispose()


async def _users_counter_after_insert(url: str) -> tuple[int, int]:
    engine = create_engine(Settings(env="test"), url=url)
    try:
        async with engine.begin() as conn:
            before = (
                await conn.execute(text("SELECT value FROM row_counts WHERE name = 'users'"))
            ).scalar_one()
            await conn.execute(
                text(
                    "INSERT INTO users (email, password_hash, full_name, role, is_active, "
                    "is_verified, created_at, updated_at) VALUES ('restored@campus.test', 'x', "
                    "'Restored', 'student', true, false, now(), now())"
                )
            )
            after = (
                await conn.execute(text("SELECT value FROM row_counts WHERE name = 'users'"))
            ).scalar_one()
            return int(before), int(after)
    finally:
        await engine.dispose()


def test_pg_dump_and_pg_restore_round_trip(databases: tuple[str, str], tmp_path: Path) -> None:
    source, restored = databases
    runner.upgrade(Settings(env="test", database_url=source), "head")
    asyncio.run(_load(source))
    original = asyncio.run(_fingerprint(source))
    assert original["users"][0] >= 3
    assert original["lessons"][0] > 0
    assert original["alembic_version"][0] == 1

    dump = tmp_path / "campus.dump"
    subprocess.run(
        ["pg_dump", "--format=custom", "--no-owner", "--file", str(dump), libpq(source)],
        check=True,
        capture_output=True,
    )
    assert dump.stat().st_size > 0
    subprocess.run(
        [
            "pg_restore",
            "--no-owner",
            "--exit-on-error",
            "--single-transaction",
            "--dbname",
            libpq(restored),
            str(dump),
        ],
        check=True,
        capture_output=True,
    )

    assert asyncio.run(_fingerprint(restored)) == original
    settings = Settings(env="test", database_url=restored)
    assert asyncio.run(runner.database_revisions(settings)) == runner.head_revisions()
    # The count triggers came back with the schema.
    before, after = asyncio.run(_users_counter_after_insert(restored))
    assert after == before + 1
