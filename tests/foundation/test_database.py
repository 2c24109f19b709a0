"""db.py, the UTC datetime type, the pagination helper and the migrations."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, inspect, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from campus.config import Settings
from campus.db import Base, create_engine
from campus.errors import ValidationFailed
from campus.kit.pagination.params import make_page_params
from campus.kit.pagination.statements import ListQuery, fetch_page
from campus.migrations import runner
from campus.models.accounts import User, UserRole
from tests.conftest import PG_ADMIN_URL, _create_pg_database, _drop_pg_database


async def test_foreign_keys_are_enforced(session: AsyncSession) -> None:
    dialect = session.bind.dialect.name
    if dialect == "sqlite":
        value = (await session.execute(text("PRAGMA foreign_keys"))).scalar_one()
        assert value == 1


async def test_utc_datetime_round_trip(session: AsyncSession) -> None:
    moscow = timezone(timedelta(hours=3))
    created = datetime(2026, 1, 2, 15, 0, tzinfo=moscow)
    user = User(email=f"{uuid.uuid4().hex}@x.test", full_name="T", created_at=created)
    session.add(user)
    await session.flush()
    session.expunge_all()
    loaded = (await session.execute(select(User).where(User.id == user.id))).scalar_one()
    assert loaded.created_at.tzinfo is not None
    assert loaded.created_at.utcoffset() == timedelta(0)
    assert loaded.created_at == datetime(2026, 1, 2, 12, 0, tzinfo=UTC)


async def test_naive_datetime_is_refused(session: AsyncSession) -> None:
    session.add(User(email="naive@x.test", full_name="N", created_at=datetime(2026, 1, 1)))
    with pytest.raises(Exception, match="naive"):
        await session.flush()


async def test_paginate_envelope_and_stable_order(session: AsyncSession) -> None:
    same_time = datetime(2026, 5, 1, tzinfo=UTC)
    users = [
        User(email=f"p{i}@page.test", full_name=f"P{i % 2}", created_at=same_time) for i in range(7)
    ]
    session.add_all(users)
    await session.flush()
    query = ListQuery(page=select(User).where(User.email.like("%@page.test")))
    columns = {"created_at": User.created_at, "full_name": User.full_name}
    params = make_page_params(skip=0, limit=3, sort="full_name", allowed=list(columns), default="")
    page1 = await fetch_page(session, query, params, sort_columns=columns, tie_breaker=User.id)
    assert (page1.total, page1.page, page1.pages) == (7, 1, 3)
    params3 = make_page_params(skip=6, limit=3, sort="full_name", allowed=list(columns), default="")
    page3 = await fetch_page(session, query, params3, sort_columns=columns, tie_breaker=User.id)
    assert page3.page == 3
    assert len(page3.items) == 1
    all_params = make_page_params(
        skip=0, limit=100, sort="full_name", allowed=list(columns), default=""
    )
    everything = await fetch_page(
        session, query, all_params, sort_columns=columns, tie_breaker=User.id
    )
    names = [(u.full_name, u.id) for u in everything.items]
    assert names == sorted(names)  # ties on full_name broken by ascending id
    beyond = make_page_params(
        skip=50, limit=10, sort=None, allowed=list(columns), default="-created_at"
    )
    empty = await fetch_page(session, query, beyond, sort_columns=columns, tie_breaker=User.id)
    assert empty.items == []
    assert empty.total == 7
    envelope = page1.envelope()
    assert set(envelope) == {"items", "total", "page", "page_size", "pages"}


def test_sort_parsing_rejects_unknown_fields() -> None:
    with pytest.raises(ValidationFailed):
        make_page_params(skip=0, limit=10, sort="-secret", allowed=["title"], default="title")


def _diff(connection: Connection) -> list[object]:
    context = MigrationContext.configure(
        connection,
        opts={
            "compare_type": True,
            "include_object": runner.include_object_for(connection.dialect.name),
        },
    )
    return list(compare_metadata(context, Base.metadata))


async def test_models_and_migrations_never_drift(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        diff = await conn.run_sync(_diff)
    assert diff == [], f"models differ from migrations; add a migration: {diff}"


async def test_upgrade_downgrade_upgrade(tmp_path: object) -> None:
    if PG_ADMIN_URL:
        url = await _create_pg_database(PG_ADMIN_URL)
    else:
        url = f"sqlite+aiosqlite:///{tmp_path}/roundtrip.db"
    settings = Settings(env="test", database_url=url)
    try:
        await asyncio.to_thread(runner.upgrade, settings, "head")
        assert await runner.is_up_to_date(settings)
        await asyncio.to_thread(runner.downgrade, settings, "base")
        assert await runner.database_revisions(settings) == set()
        engine = create_engine(settings)
        async with engine.connect() as conn:
            tables = await conn.run_sync(lambda c: inspect(c).get_table_names())
        await engine.dispose()
        assert set(tables) <= {"alembic_version"}
        await asyncio.to_thread(runner.upgrade, settings, "head")
        assert await runner.is_up_to_date(settings)
    finally:
        if PG_ADMIN_URL:
            await _drop_pg_database(PG_ADMIN_URL, url)


async def test_every_migration_steps_down_and_up(tmp_path: object) -> None:
    """Each revision's downgrade works on its own, not only all of them at once."""
    if PG_ADMIN_URL:
        url = await _create_pg_database(PG_ADMIN_URL)
    else:
        url = f"sqlite+aiosqlite:///{tmp_path}/steps.db"
    settings = Settings(env="test", database_url=url)
    try:
        await asyncio.to_thread(runner.upgrade, settings, "head")
        heads = runner.head_revisions()
        while await runner.database_revisions(settings):
            await asyncio.to_thread(runner.downgrade, settings, "-1")
        await asyncio.to_thread(runner.upgrade, settings, "head")
        assert await runner.database_revisions(settings) == heads
    finally:
        if PG_ADMIN_URL:
            await _drop_pg_database(PG_ADMIN_URL, url)


def test_database_name_is_per_run(database_url: str) -> None:
    name = make_url(database_url).database or ""
    assert "campus_test_" in name or name.endswith("campus-test.db")


def test_role_enum_values() -> None:
    assert [r.value for r in UserRole] == ["admin", "teacher", "student"]
