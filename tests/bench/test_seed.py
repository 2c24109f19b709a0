"""bench/seed.py fills a fresh database with the right counts, and the data works."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import make_url

import campus.models  # noqa: F401 - registers every table
from campus.config import Settings
from campus.db import Base
from campus.main import create_app
from tests.conftest import PG_ADMIN_URL
from tests.counts import DRIFT

ROOT = Path(__file__).resolve().parents[2]
SEED = ROOT / "bench" / "seed.py"

# The tiny scale: 300 users, 100 courses of 5 lessons, 300 enrollments, 600 tasks. Progress:
# the benchmark student finished 5 courses and is part-way through 55 more (135 lessons),
# the 240 other enrollments have 0, 1 or 2 lessons done in turn (240). Then the big class
# of the gradebook benchmark: one more course, its 295 students (every ordinary one) with
# 0..5 lessons done in turn (735), quizzes on 3 lessons and 740 attempts.
TINY = {
    "users": 300,
    "courses": 101,
    "lessons": 505,
    "enrollments": 595,
    "lesson_completions": 1110,
    "quizzes": 3,
    "quiz_attempts": 740,
    "tasks": 600,
    "chat_messages": 500,  # the chat of the first published course
    "notifications": 200,  # the benchmark student's
}


def _seed(url: str, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAMPUS_")}
    return subprocess.run(
        [sys.executable, str(SEED), "--scale", "tiny", "--db", url, *extra],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )


async def _sign_in_and_read(url: str, settings: Settings) -> None:
    """The seeded student signs in through the real app with the published password."""
    app = create_app(settings.model_copy(update={"database_url": url}))
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        ) as client:
            login = await client.post(
                "/api/v1/auth/login",
                data={
                    "username": "student@bench.campus.example",
                    "password": "campus-bench-password",
                },
            )
            assert login.status_code == 200, login.text
            token = login.json()["access_token"]
            me = await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
            assert me.status_code == 200
            assert me.json()["email"] == "student@bench.campus.example"
            assert me.json()["role"] == "student"
            # The big class's teacher reads its gradebook (the gradebook benchmark).
            teacher = await client.post(
                "/api/v1/auth/login",
                data={
                    "username": "teacher2@bench.campus.example",
                    "password": "campus-bench-password",
                },
            )
            assert teacher.status_code == 200, teacher.text
            gradebook = await client.get(
                "/api/v1/courses/101/gradebook?limit=50",
                headers={"Authorization": f"Bearer {teacher.json()['access_token']}"},
            )
            assert gradebook.status_code == 200, gradebook.text
            body = gradebook.json()
            assert body["total"] == 295
            assert len(body["quizzes"]) == 3
            assert any(row["quiz_score"] is not None for row in body["items"])
    finally:
        await app.state.database.dispose()


async def test_tiny_scale_fills_sqlite(tmp_path: Path, settings: Settings) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'bench.db'}"
    result = await asyncio.to_thread(_seed, url)
    assert result.returncode == 0, result.stderr + result.stdout
    assert "seed: done in" in result.stdout

    with sqlite3.connect(tmp_path / "bench.db") as conn:
        counts = {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TINY}
        student = conn.execute(
            "SELECT id FROM users WHERE email = 'student@bench.campus.example'"
        ).fetchone()[0]
        student_tasks = conn.execute(
            "SELECT count(*) FROM tasks WHERE owner_id = ?", (student,)
        ).fetchone()[0]
        student_courses = conn.execute(
            "SELECT count(*) FROM enrollments e JOIN courses c ON c.id = e.course_id "
            "WHERE e.user_id = ? AND c.is_published",
            (student,),
        ).fetchone()[0]
        hashes = conn.execute("SELECT count(DISTINCT password_hash) FROM users").fetchone()[0]
        foreign_key_problems = conn.execute("PRAGMA foreign_key_check").fetchall()
        count_drift = [row for row in conn.execute(DRIFT) if row[1] != row[2]]
        triggers = conn.execute("SELECT count(*) FROM sqlite_master WHERE type='trigger'")
        trigger_count = triggers.fetchone()[0]
        index_names = {
            row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='index'")
        }
    assert counts == TINY
    assert (student_tasks, student_courses) == (500, 60)
    assert hashes == 1
    assert foreign_key_problems == []
    assert count_drift == []  # the load ran without triggers, then recounted
    assert trigger_count == 11  # dropped for the load, rebuilt
    assert "ix_tasks_owner_id_created_at" in index_names  # dropped for the load, rebuilt

    manifest = await asyncio.to_thread(_seed, url, "--print-manifest")
    assert '"password": "campus-bench-password"' in manifest.stdout
    assert f'"id": {student}' in manifest.stdout

    await _sign_in_and_read(url, settings)

    again = await asyncio.to_thread(_seed, url)
    assert again.returncode != 0
    assert "not empty" in again.stderr + again.stdout

    # What a run's create_task scenario wrote is removed before the next run reads.
    from bench import seed as seed_module

    other = conn_value(tmp_path, "SELECT id FROM users WHERE id <> ? LIMIT 1", student)
    with sqlite3.connect(tmp_path / "bench.db") as conn:
        for owner in (student, student, student, other):
            conn.execute(
                "INSERT INTO tasks (owner_id, title, status, priority, created_at, updated_at,"
                " search_text) VALUES (?, ?, 'todo', 'medium', '2026-01-01 00:00:00.000000',"
                " '2026-01-01 00:00:00.000000', '')",
                (owner, seed_module.WRITTEN_TASK_TITLE),
            )
    manifest_body = seed_module.read_manifest(url)
    assert manifest_body is not None
    assert seed_module.forget_writes(url, manifest_body) == 3
    assert seed_module.forget_writes(url, manifest_body) == 0
    left = conn_value(tmp_path, "SELECT count(*) FROM tasks WHERE owner_id = ?", student)
    assert left == 500
    assert conn_value(tmp_path, "SELECT count(*) FROM tasks WHERE owner_id = ?", other) >= 1


def conn_value(tmp_path: Path, sql: str, *args: object) -> int:
    with sqlite3.connect(tmp_path / "bench.db") as conn:
        return int(conn.execute(sql, args).fetchone()[0])


@pytest.mark.postgres_only
async def test_tiny_scale_fills_postgresql(settings: Settings) -> None:
    import asyncpg

    admin = make_url(PG_ADMIN_URL)
    name = f"campus_benchtest_{uuid.uuid4().hex[:10]}"
    url = admin.set(database=name).render_as_string(hide_password=False)
    server = {
        "user": admin.username,
        "password": admin.password,
        "host": admin.host or "127.0.0.1",
        "port": admin.port or 5432,
    }
    try:
        result = await asyncio.to_thread(_seed, url)
        assert result.returncode == 0, result.stderr + result.stdout
        conn = await asyncpg.connect(database=name, **server)
        try:
            counts = {t: await conn.fetchval(f"SELECT count(*) FROM {t}") for t in TINY}
            next_task_id = await conn.fetchval("SELECT nextval('tasks_id_seq')")
            count_drift = [tuple(r) for r in await conn.fetch(DRIFT) if r[1] != r[2]]
            # Dropped for the load and rebuilt: the unique constraints and indexes are back.
            constraints = {
                r["conname"]
                for r in await conn.fetch("SELECT conname FROM pg_constraint WHERE contype = 'u'")
            }
            indexes = {r["indexname"] for r in await conn.fetch("SELECT indexname FROM pg_indexes")}
            # The load skips the foreign-key triggers: check every reference by hand.
            orphans = {
                f"{table.name}.{fk.parent.name}": await conn.fetchval(
                    f"SELECT count(*) FROM {table.name} c WHERE c.{fk.parent.name} IS NOT NULL "
                    f"AND NOT EXISTS (SELECT 1 FROM {fk.column.table.name} p "
                    f"WHERE p.{fk.column.name} = c.{fk.parent.name})"
                )
                for table in Base.metadata.sorted_tables
                for fk in table.foreign_keys
            }
        finally:
            await conn.close()
        assert counts == TINY
        assert count_drift == []  # the load ran without triggers, then recounted
        assert next_task_id == TINY["tasks"] + 1  # sequences follow the copied ids
        assert len(orphans) >= 8
        assert {"uq_users_email", "uq_enrollments_user_id_course_id"} <= constraints
        assert {"ix_tasks_owner_id_created_at", "ix_courses_published_created_at"} <= indexes
        assert set(orphans.values()) == {0}, orphans
        await _sign_in_and_read(url, settings)
    finally:
        conn = await asyncpg.connect(database=admin.database or "postgres", **server)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()
