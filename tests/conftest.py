"""Test harness: the whole suite runs against SQLite, or PostgreSQL when
``CAMPUS_TEST_DATABASE_URL`` points at a server (e.g.
``postgresql+asyncpg://postgres@127.0.0.1:5432/postgres``).

Each run creates its own database (a temporary SQLite file, or a fresh PostgreSQL database
named ``campus_test_<random>``), migrates it once, and drops it at the end. Each test runs
inside a transaction that is rolled back (``join_transaction_mode="create_savepoint"``), so
the commit of every request only releases a savepoint. Tests that need real commits from
several connections at once (concurrency) use ``committed_client`` and clean up after.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI, Request
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from campus.config import Settings
from campus.db import Base, create_engine, unit_of_work
from campus.http.deps import get_session
from campus.main import create_app
from campus.migrations import runner
from campus.models.counters import RowCount, recount

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
PG_ADMIN_URL = os.environ.get("CAMPUS_TEST_DATABASE_URL", "")
REDIS_TEST_URL = os.environ.get("CAMPUS_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def pytest_report_header() -> str:
    backend = "postgresql" if PG_ADMIN_URL else "sqlite"
    return f"campus test database: {backend}"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if PG_ADMIN_URL:
        return
    skip = pytest.mark.skip(reason="PostgreSQL only; set CAMPUS_TEST_DATABASE_URL to run")
    for item in items:
        if "postgres_only" in item.keywords:
            item.add_marker(skip)


def service_unavailable(reason: str) -> None:
    """Skip outside CI, fail under CI=true: a service a test needs is missing."""
    if IN_CI:
        pytest.fail(f"{reason} (required under CI=true)")
    pytest.skip(reason)


async def _create_pg_database(admin_url: str) -> str:
    name = f"campus_test_{uuid.uuid4().hex[:12]}"
    engine = create_engine(Settings(env="test"), url=admin_url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        await engine.dispose()
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


async def _drop_pg_database(admin_url: str, url: str) -> None:
    name = make_url(url).database
    engine = create_engine(Settings(env="test"), url=admin_url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh, migrated database for this test run."""
    if PG_ADMIN_URL:
        try:
            url = asyncio.run(_create_pg_database(PG_ADMIN_URL))
        except Exception as exc:
            service_unavailable(f"PostgreSQL at CAMPUS_TEST_DATABASE_URL is unreachable: {exc}")
        try:
            runner.upgrade(Settings(env="test", database_url=url), "head")
            yield url
        finally:
            asyncio.run(_drop_pg_database(PG_ADMIN_URL, url))
    else:
        path: Path = tmp_path_factory.mktemp("db") / "campus-test.db"
        url = f"sqlite+aiosqlite:///{path}"
        runner.upgrade(Settings(env="test", database_url=url), "head")
        yield url


@pytest.fixture(scope="session")
def settings(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(
        env="test",
        # Uploaded files (campus.media) in a directory of this run, never the working one.
        media_dir=str(tmp_path_factory.mktemp("media")),
        database_url=database_url,
        secret_key="test-secret-key-that-is-long-enough-0123456789",
        base_url="http://testserver",
        cors_origins=["https://app.example.com"],
        log_format="console",
        # Cheap Argon2 in tests; production parameters are covered by bench/ and a unit test.
        argon2_memory_kib=8 * 1024,
        argon2_time_cost=1,
        password_hash_concurrency=4,
        # Tests share one client IP; tests of the limits build their own app with them on.
        rate_limits_enabled=False,
        # Mail is kept in campus.email.MemoryBackend.outbox (see tests.mail).
        email_backend="memory",
        # No scheduled jobs (reminders, digest, clean-up) behind the tests' backs; tests
        # run them explicitly. Retries come back fast.
        jobs_schedule=False,
        jobs_retry_base_seconds=0.05,
        jobs_retry_max_seconds=0.5,
    )


@pytest.fixture(scope="session")
async def engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(settings)
    yield engine
    await engine.dispose()


@pytest.fixture
async def connection(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    async with engine.connect() as conn:
        transaction = await conn.begin()
        try:
            yield conn
        finally:
            if transaction.is_active:
                await transaction.rollback()


@pytest.fixture
async def session(connection: AsyncConnection) -> AsyncIterator[AsyncSession]:
    """A session for arranging and checking data, inside the test's transaction."""
    async with AsyncSession(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    ) as session:
        yield session


@pytest.fixture(scope="session")
def app(settings: Settings) -> FastAPI:
    return create_app(settings)


def on_test_transaction(app: FastAPI, connection: AsyncConnection) -> FastAPI:
    """Bind ``app``'s unit of work to the test's transaction: a commit releases a savepoint."""

    async def session_override(request: Request) -> AsyncIterator[AsyncSession]:
        async with (
            AsyncSession(
                bind=connection,
                join_transaction_mode="create_savepoint",
                expire_on_commit=False,
                autoflush=False,
            ) as session,
            unit_of_work(session),
        ):
            yield session

    app.dependency_overrides[get_session] = session_override
    return app


@pytest.fixture
async def client(app: FastAPI, connection: AsyncConnection) -> AsyncIterator[httpx.AsyncClient]:
    """The app on the test's transaction: every request's commit is a savepoint release."""
    transport = httpx.ASGITransport(app=on_test_transaction(app, connection))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c
    finally:
        app.dependency_overrides.pop(get_session, None)


async def truncate_all(engine: AsyncEngine) -> None:
    """Empty every table; the maintained counts (which TRUNCATE bypasses) are recounted."""
    tables = [t for t in Base.metadata.sorted_tables if t.name != RowCount.__tablename__]
    async with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            names = ", ".join(f'"{t.name}"' for t in tables)
            await conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY"))
        else:
            for table in reversed(tables):
                await conn.execute(table.delete())
        await conn.run_sync(recount)


@pytest.fixture
async def committed_client(
    settings: Settings, engine: AsyncEngine
) -> AsyncIterator[httpx.AsyncClient]:
    """A client on a separate app whose requests really commit (for concurrency tests).

    Every table is emptied afterwards, so nothing leaks into other tests.
    """
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c
    finally:
        await app.state.database.dispose()
        await truncate_all(engine)
