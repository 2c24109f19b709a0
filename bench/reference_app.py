"""The reference endpoint every benchmark ratio is computed against.

A minimal FastAPI app serving one course by id as JSON, straight from a raw driver: an
asyncpg pool on PostgreSQL, a few aiosqlite connections on SQLite. One SELECT by primary
key joined to the teacher's name, a Pydantic response model, no ORM, no middleware. It is
what "FastAPI + raw asyncpg pool, select by primary key" means in issue 9, measured in the
same run as the Campus endpoints so that machine noise cancels out of the ratios.

    uv run bench/reference_app.py --db URL [--port 8799]

``bench/run.py`` starts it by itself (pinned to the same core as ``campus serve``).
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import uvicorn
from fastapi import FastAPI, HTTPException
from pydantic import BaseModel
from sqlalchemy.engine import make_url

COLUMNS = (
    "c.id, c.slug, c.title, c.description, c.level, c.price_cents, c.currency, "
    "c.is_published, c.created_at, c.updated_at, u.id AS teacher_id, u.full_name AS teacher_name"
)
SQL = f"SELECT {COLUMNS} FROM courses c JOIN users u ON u.id = c.teacher_id WHERE c.id = "


class TeacherRef(BaseModel):
    id: int
    full_name: str


class CourseRow(BaseModel):
    id: int
    slug: str
    title: str
    description: str
    level: str
    price_cents: int
    currency: str
    is_published: bool
    teacher: TeacherRef
    created_at: datetime
    updated_at: datetime


def _course(row: Any) -> CourseRow:
    return CourseRow(
        id=row["id"],
        slug=row["slug"],
        title=row["title"],
        description=row["description"],
        level=row["level"],
        price_cents=row["price_cents"],
        currency=row["currency"],
        is_published=bool(row["is_published"]),
        teacher=TeacherRef(id=row["teacher_id"], full_name=row["teacher_name"]),
        created_at=_aware(row["created_at"]),
        updated_at=_aware(row["updated_at"]),
    )


def _aware(value: Any) -> datetime:
    if isinstance(value, str):  # SQLite stores naive UTC text
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class PostgresSource:
    def __init__(self, url: str) -> None:
        self.url = make_url(url)
        self.pool: Any = None

    async def open(self) -> None:
        import asyncpg

        self.pool = await asyncpg.create_pool(
            user=self.url.username,
            password=self.url.password,
            host=self.url.host or "127.0.0.1",
            port=self.url.port or 5432,
            database=self.url.database,
            min_size=10,
            max_size=10,
        )

    async def close(self) -> None:
        await self.pool.close()

    async def course(self, course_id: int) -> Any:
        async with self.pool.acquire() as conn:
            return await conn.fetchrow(SQL + "$1", course_id)


class SqliteSource:
    """A tiny pool of aiosqlite connections (each runs its queries in its own thread)."""

    def __init__(self, url: str, size: int = 5) -> None:
        self.path = make_url(url).database
        self.size = size
        self.idle: asyncio.Queue[Any] = asyncio.Queue()
        self.all: list[Any] = []

    async def open(self) -> None:
        import aiosqlite

        for _ in range(self.size):
            conn = await aiosqlite.connect(self.path)
            conn.row_factory = aiosqlite.Row
            await conn.execute("PRAGMA journal_mode=WAL")
            self.all.append(conn)
            self.idle.put_nowait(conn)

    async def close(self) -> None:
        for conn in self.all:
            await conn.close()

    async def course(self, course_id: int) -> Any:
        conn = await self.idle.get()
        try:
            async with conn.execute(SQL + "?", (course_id,)) as cursor:
                return await cursor.fetchone()
        finally:
            self.idle.put_nowait(conn)


def create_app(database_url: str) -> FastAPI:
    backend = make_url(database_url).get_backend_name()
    source = PostgresSource(database_url) if backend == "postgresql" else SqliteSource(database_url)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await source.open()
        try:
            yield
        finally:
            await source.close()

    app = FastAPI(lifespan=lifespan, openapi_url=None)

    @app.get("/courses/{course_id}", response_model=CourseRow)
    async def get_course(course_id: int) -> CourseRow:
        row = await source.course(course_id)
        if row is None:
            raise HTTPException(status_code=404)
        return _course(row)

    @app.get("/health/live")
    async def live() -> dict[str, str]:
        return {"status": "ok"}

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description="The benchmark reference endpoint.")
    parser.add_argument("--db", required=True, help="SQLAlchemy URL of the seeded database")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8799)
    args = parser.parse_args()
    uvicorn.run(
        create_app(args.db),
        host=args.host,
        port=args.port,
        access_log=False,
        log_level="warning",
        server_header=False,
    )


if __name__ == "__main__":
    main()
