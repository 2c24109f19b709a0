"""Fill a fresh Campus database with a benchmark data set, fast.

    uv run bench/seed.py --scale 10k --db sqlite+aiosqlite:///bench/.data/campus_bench_10k.db
    uv run bench/seed.py --scale 1m --db postgresql+asyncpg://postgres@127.0.0.1:5432/campus_bench_1m

The database is created (PostgreSQL) if it does not exist, migrated with Campus's own
migrations, then bulk-loaded: PostgreSQL through ``COPY`` (asyncpg
``copy_records_to_table``), SQLite through ``executemany`` in one transaction per table.
Secondary indexes (and, on PostgreSQL, unique constraints) are dropped before a table is
loaded and rebuilt from their exact definitions afterwards, which is several times faster
than maintaining them row by row; PostgreSQL also skips the per-row foreign-key triggers
(``session_replication_role = replica``) as the generated rows are consistent by design.

Every user has the same password (:data:`PASSWORD`), hashed ONCE with the production Argon2
parameters, so signing in works and costs what it costs in production. A manifest of
well-known ids (a published course, the benchmark student with many tasks and enrollments,
the password) is stored in the table ``bench_manifest`` of the seeded database itself, so it
always describes the data next to it; ``--print-manifest`` shows it.

The database must be fresh (never migrated); ``--recreate`` drops and recreates it first.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import sqlite3
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.engine import URL, make_url

from campus.models.counters import RECOUNT

PASSWORD = "campus-bench-password"  # published on purpose: every seeded user has it
STUDENT_EMAIL = "student@bench.campus.example"
ADMIN_EMAIL = "admin@bench.campus.example"
EMAIL_DOMAIN = "bench.campus.example"
MANIFEST_TABLE = "bench_manifest"
CHUNK = 50_000
LESSONS_PER_COURSE = 5
STUDENT_ENROLLMENTS = 60  # the benchmark student's cabinet: three pages of 20
STUDENT_TASKS = 500  # the benchmark student's task list: 25 pages of 20
CHAT_MESSAGES = 500  # the chat of the published course (the student and its teacher)
STUDENT_NOTIFICATIONS = 200  # the benchmark student's notifications: ten pages of 20
# One more course, taught by teacher 2, for the gradebook benchmark: this many students
# (fewer at the tiny scale), quizzes on its first GRADEBOOK_QUIZZES lessons.
GRADEBOOK_STUDENTS = 10_000
GRADEBOOK_QUIZZES = 3


@dataclass(frozen=True, slots=True)
class Scale:
    users: int
    courses: int
    enrollments: int
    tasks: int

    @property
    def teachers(self) -> int:
        return max(2, self.users // 100)

    @property
    def lessons(self) -> int:
        return self.courses * LESSONS_PER_COURSE


SCALES: dict[str, Scale] = {
    "tiny": Scale(users=300, courses=100, enrollments=300, tasks=600),
    "10k": Scale(users=10_000, courses=1_000, enrollments=10_000, tasks=10_000),
    "1m": Scale(users=1_000_000, courses=100_000, enrollments=1_000_000, tasks=1_000_000),
}

TOPICS = (
    "Python",
    "FastAPI",
    "SQL",
    "PostgreSQL",
    "Async IO",
    "Testing",
    "Docker",
    "Kubernetes",
    "Security",
    "Algorithms",
)
LEVELS = ("beginner", "intermediate", "advanced")
STATUSES = ("todo", "in_progress", "completed")
PRIORITIES = ("low", "medium", "high")
DESCRIPTION = (
    "A practical course: short lessons, exercises after each one and a small project at the "
    "end. You build a working service step by step and learn why each step is there."
)
HOURS = [timedelta(hours=h) for h in range(LESSONS_PER_COURSE + 1)]
DAYS = [timedelta(days=d) for d in range(32)]
MINUTE = timedelta(minutes=1)
LESSON_CONTENT = (
    "## What you will learn\n\n"
    + "Each lesson explains one idea, shows it in code and ends with an exercise. " * 6
    + "\n\n```python\nprint('hello, campus')\n```\n"
)


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


class Plan:
    """Deterministic rows for one scale; ids are assigned here, 1..n per table."""

    def __init__(self, scale: Scale, password_hash: str, now: datetime) -> None:
        self.scale = scale
        self.password_hash = password_hash
        self.now = now
        self.start = now - timedelta(days=730)
        self.teacher_ids = range(2, 2 + scale.teachers)
        self.student_id = 2 + scale.teachers
        # Every other student, in id order (the benchmark student is kept apart).
        self.first_student = self.student_id + 1
        self.students = scale.users - self.first_student + 1
        if self.students < 10:
            raise ValueError("scale too small: fewer than 10 ordinary students")
        self.published = [c for c in range(1, scale.courses + 1) if c % 10 != 0]
        if len(self.published) < STUDENT_ENROLLMENTS:
            raise ValueError(f"scale too small: fewer than {STUDENT_ENROLLMENTS} courses")
        # The gradebook course: the last course id, the first ordinary students.
        self.gradebook_course_id = scale.courses + 1
        self.gradebook_students = min(GRADEBOOK_STUDENTS, self.students)

    def _times(self, count: int) -> Iterator[datetime]:
        """``count`` timestamps spread evenly over the last two years, increasing."""
        step = timedelta(seconds=730 * 86_400 / max(1, count))
        at = self.start
        for _ in range(count):
            at += step
            yield at

    # -- users -------------------------------------------------------------------------
    USER_COLUMNS = (
        "id",
        "email",
        "full_name",
        "role",
        "password_hash",
        "is_active",
        "is_verified",
        "created_at",
        "updated_at",
    )

    def users(self) -> Iterator[tuple[Any, ...]]:
        n, ph = self.scale.users, self.password_hash
        for uid, at in zip(range(1, n + 1), self._times(n), strict=True):
            if uid == 1:
                yield (uid, ADMIN_EMAIL, "Bench Admin", "admin", ph, True, True, at, at)
            elif uid < self.student_id:
                email = f"teacher{uid}@{EMAIL_DOMAIN}"
                yield (uid, email, f"Teacher {uid}", "teacher", ph, True, True, at, at)
            elif uid == self.student_id:
                yield (uid, STUDENT_EMAIL, "Bench Student", "student", ph, True, True, at, at)
            else:
                email = f"user{uid}@{EMAIL_DOMAIN}"
                active = uid % 97 != 0
                yield (uid, email, f"Student {uid}", "student", ph, active, uid % 3 != 0, at, at)

    # -- courses and lessons --------------------------------------------------------------
    COURSE_COLUMNS = (
        "id",
        "slug",
        "title",
        "description",
        "level",
        "price_cents",
        "currency",
        "is_published",
        "teacher_id",
        "created_at",
        "updated_at",
    )

    def courses(self) -> Iterator[tuple[Any, ...]]:
        n, teachers = self.scale.courses, self.scale.teachers
        for cid, at in zip(range(1, n + 1), self._times(n), strict=True):
            topic = TOPICS[cid % len(TOPICS)]
            level = LEVELS[cid % len(LEVELS)]
            title = f"{topic} for {level} learners, part {cid}"
            slug = f"{topic.lower().replace(' ', '-')}-{level}-{cid}"
            price = 0 if cid % 5 else 1999
            teacher = 2 + (cid - 1) % teachers
            published = cid % 10 != 0
            yield (cid, slug, title, DESCRIPTION, level, price, "USD", published, teacher, at, at)
        cid, at = self.gradebook_course_id, self.now - DAYS[31]
        slug = f"gradebook-course-{cid}"
        yield (cid, slug, "The big class", DESCRIPTION, "beginner", 0, "USD", True, 2, at, at)

    LESSON_COLUMNS = (
        "id",
        "course_id",
        "title",
        "summary",
        "content",
        "position",
        "duration_minutes",
        "is_preview",
        "created_at",
        "updated_at",
    )

    def lessons(self) -> Iterator[tuple[Any, ...]]:
        n = self.scale.courses
        times = itertools.chain(self._times(n), [self.now - DAYS[31]])
        for cid, at in zip(range(1, n + 2), times, strict=True):
            for pos in range(1, LESSONS_PER_COURSE + 1):
                lid = (cid - 1) * LESSONS_PER_COURSE + pos
                yield (
                    lid,
                    cid,
                    f"Lesson {pos}",
                    f"Step {pos} of the course",
                    LESSON_CONTENT,
                    pos,
                    5 + 5 * pos,
                    pos == 1,
                    at,
                    at,
                )

    @staticmethod
    def lesson_id(course_id: int, position: int) -> int:
        return (course_id - 1) * LESSONS_PER_COURSE + position

    # -- enrollments and progress -----------------------------------------------------------
    ENROLLMENT_COLUMNS = ("id", "user_id", "course_id", "status", "enrolled_at")
    COMPLETION_COLUMNS = ("id", "user_id", "lesson_id", "course_id", "completed_at")

    def _enrollment_pairs(self) -> Iterator[tuple[int, int, int]]:
        """(user_id, course_id, lessons completed) for every enrollment, unique per pair."""
        published = self.published
        count = len(published)
        for k in range(STUDENT_ENROLLMENTS):
            # The benchmark student finished the first five courses, and is part-way through
            # the others.
            done = LESSONS_PER_COURSE if k < 5 else k % LESSONS_PER_COURSE
            yield self.student_id, published[(k * 7) % count], done
        others = self.scale.enrollments - STUDENT_ENROLLMENTS
        if others // self.students + 1 > count:
            raise ValueError("more enrollments per student than published courses")
        for i in range(others):
            index, rounds = i % self.students, i // self.students
            course = published[(index * 31 + rounds) % count]
            yield self.first_student + index, course, i % 3

    def enrollments(self) -> Iterator[tuple[Any, ...]]:
        n = self.scale.enrollments
        pairs = enumerate(self._enrollment_pairs(), start=1)
        for (eid, (uid, cid, _done)), at in zip(pairs, self._times(n), strict=True):
            # A course's completion is derived from its lesson completions, not stored.
            yield (eid, uid, cid, "cancelled" if eid % 50 == 0 else "active", at)
        for i, (uid, _done, at) in enumerate(self._gradebook_class(), start=n + 1):
            yield (i, uid, self.gradebook_course_id, "active", at)

    def _gradebook_class(self) -> Iterator[tuple[int, int, datetime]]:
        """(user id, lessons completed 0..5, enrolled at) of each student of the big class."""
        start = self.now - DAYS[30]
        for i in range(self.gradebook_students):
            yield self.first_student + i, i % (LESSONS_PER_COURSE + 1), start + MINUTE * i

    def completions(self) -> Iterator[tuple[Any, ...]]:
        n = self.scale.enrollments
        completion_id = 0
        for (uid, cid, done), at in zip(self._enrollment_pairs(), self._times(n), strict=True):
            for pos in range(1, done + 1):
                completion_id += 1
                lesson = self.lesson_id(cid, pos)
                yield (completion_id, uid, lesson, cid, at + HOURS[pos])
        cid = self.gradebook_course_id
        for uid, done, at in self._gradebook_class():
            for pos in range(1, done + 1):
                completion_id += 1
                yield (completion_id, uid, self.lesson_id(cid, pos), cid, at + HOURS[pos])

    # -- the big class's quizzes and attempts -------------------------------------------------
    QUIZ_COLUMNS = (
        "id",
        "lesson_id",
        "course_id",
        "title",
        "pass_percent",
        "attempt_limit",
        "time_limit_seconds",
        "reveal_answers",
        "created_at",
        "updated_at",
    )
    ATTEMPT_COLUMNS = (
        "id",
        "quiz_id",
        "user_id",
        "number",
        "started_at",
        "submitted_at",
        "score",
        "max_score",
        "percent",
        "passed",
    )

    def quizzes(self) -> Iterator[tuple[Any, ...]]:
        cid, at = self.gradebook_course_id, self.now - DAYS[31]
        for pos in range(1, GRADEBOOK_QUIZZES + 1):
            yield (pos, self.lesson_id(cid, pos), cid, f"Check {pos}", 60, None, None, True, at, at)

    def attempts(self) -> Iterator[tuple[Any, ...]]:
        """A passed attempt at each quiz of a completed lesson (every fourth student failed
        once first); every fifth student failed the quiz of the lesson they are stuck on."""
        attempt_id = 0
        for i, (uid, done, at) in enumerate(self._gradebook_class()):
            for pos in range(1, GRADEBOOK_QUIZZES + 1):
                when = at + HOURS[pos]
                tries: list[int] = []
                if pos <= done:
                    tries = [30, 60 + (i * 7 + pos) % 41] if i % 4 == 0 else [60 + (i + pos) % 41]
                elif pos == done + 1 and i % 5 == 0:
                    tries = [20 + i % 30]
                for number, percent in enumerate(tries, start=1):
                    attempt_id += 1
                    score = percent // 10
                    yield (
                        attempt_id,
                        pos,
                        uid,
                        number,
                        when,
                        when,
                        score,
                        10,
                        percent,
                        percent >= 60,
                    )

    # -- tasks -------------------------------------------------------------------------------
    TASK_COLUMNS = (
        "id",
        "owner_id",
        "title",
        "description",
        "status",
        "priority",
        "due_date",
        "lesson_id",
        "created_at",
        "updated_at",
        "completed_at",
    )

    def tasks(self) -> Iterator[tuple[Any, ...]]:
        n, courses = self.scale.tasks, self.scale.courses
        for tid, at in zip(range(1, n + 1), self._times(n), strict=True):
            if tid <= STUDENT_TASKS:
                owner = self.student_id
            else:
                owner = self.first_student + (tid - STUDENT_TASKS) % self.students
            status = STATUSES[tid % 3]
            due = at + DAYS[tid % 30 + 1] if tid % 2 else None
            lesson = self.lesson_id(1 + tid % courses, 1) if tid % 4 == 0 else None
            description = "Read the lesson again and redo the exercise." if tid % 3 == 0 else None
            completed = at + DAYS[1] if status == "completed" else None
            yield (
                tid,
                owner,
                f"Task {tid}: practise {TOPICS[tid % len(TOPICS)]}",
                description,
                status,
                PRIORITIES[tid % 3],
                due,
                lesson,
                at,
                at,
                completed,
            )

    # -- chat and notifications ----------------------------------------------------------------
    MESSAGE_COLUMNS = ("id", "course_id", "author_id", "body", "created_at", "edited_at")
    NOTIFICATION_COLUMNS = (
        "id",
        "user_id",
        "kind",
        "title",
        "link",
        "data",
        "created_at",
        "read_at",
    )

    def messages(self) -> Iterator[tuple[Any, ...]]:
        """The chat of the first published course: its teacher and the benchmark student."""
        cid = self.published[0]
        teacher = 2 + (cid - 1) % self.scale.teachers
        times = self._times(CHAT_MESSAGES)
        for mid, at in zip(range(1, CHAT_MESSAGES + 1), times, strict=True):
            author = teacher if mid % 3 == 0 else self.student_id
            yield (
                mid,
                cid,
                author,
                f"Message {mid}: a question about lesson {mid % 5 + 1}",
                at,
                None,
            )

    def notifications(self) -> Iterator[tuple[Any, ...]]:
        cid = self.published[0]
        times = self._times(STUDENT_NOTIFICATIONS)
        for nid, at in zip(range(1, STUDENT_NOTIFICATIONS + 1), times, strict=True):
            data = json.dumps({"course_id": cid, "lesson_id": self.lesson_id(cid, 1 + nid % 5)})
            read = at + MINUTE if nid % 2 else None
            link = f"/courses/{cid}"
            yield (
                nid,
                self.student_id,
                "lesson.published",
                f"New lesson {nid}",
                link,
                data,
                at,
                read,
            )

    def tables(self) -> list[tuple[str, tuple[str, ...], Callable[[], Iterator[tuple[Any, ...]]]]]:
        return [
            ("users", self.USER_COLUMNS, self.users),
            ("courses", self.COURSE_COLUMNS, self.courses),
            ("lessons", self.LESSON_COLUMNS, self.lessons),
            ("enrollments", self.ENROLLMENT_COLUMNS, self.enrollments),
            ("lesson_completions", self.COMPLETION_COLUMNS, self.completions),
            ("quizzes", self.QUIZ_COLUMNS, self.quizzes),
            ("quiz_attempts", self.ATTEMPT_COLUMNS, self.attempts),
            ("tasks", self.TASK_COLUMNS, self.tasks),
            ("chat_messages", self.MESSAGE_COLUMNS, self.messages),
            ("notifications", self.NOTIFICATION_COLUMNS, self.notifications),
        ]

    def manifest(self, scale_name: str, revision: str) -> dict[str, Any]:
        return {
            "scale": scale_name,
            "counts": asdict(self.scale) | {"lessons": self.scale.lessons},
            "schema_revision": revision,
            "seeded_at": self.now.isoformat(),
            "password": PASSWORD,
            "admin": {"id": 1, "email": ADMIN_EMAIL},
            "teacher": {"id": 2, "email": f"teacher2@{EMAIL_DOMAIN}"},
            "student": {
                "id": self.student_id,
                "email": STUDENT_EMAIL,
                "enrollments": STUDENT_ENROLLMENTS,
                "tasks": STUDENT_TASKS,
                "notifications": STUDENT_NOTIFICATIONS,
            },
            "chat": {"course_id": self.published[0], "messages": CHAT_MESSAGES},
            "published_course_id": self.published[0],
            "draft_course_id": 10,
            "lesson_id": self.lesson_id(self.published[0], 1),
            "gradebook": {
                "course_id": self.gradebook_course_id,
                "students": self.gradebook_students,
                "quizzes": GRADEBOOK_QUIZZES,
                "teacher": {"id": 2, "email": f"teacher2@{EMAIL_DOMAIN}"},
            },
        }


def _chunks(rows: Iterator[tuple[Any, ...]], size: int = CHUNK) -> Iterator[list[tuple[Any, ...]]]:
    chunk: list[tuple[Any, ...]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def check_columns(plan: Plan) -> None:
    """Fail clearly if the models gained a required column this seed does not fill."""
    import campus.models  # noqa: F401 - registers the tables
    from campus.db import Base

    for table_name, columns, _rows in plan.tables():
        table = Base.metadata.tables[table_name]
        missing = [
            c.name
            for c in table.columns
            if c.name not in columns
            and not c.nullable
            and c.server_default is None
            and not c.primary_key
        ]
        unknown = [c for c in columns if c not in table.columns]
        if missing or unknown:
            raise SystemExit(
                f"seed: table {table_name} changed (missing required {missing}, unknown "
                f"{unknown}); update bench/seed.py"
            )


def hash_password() -> str:
    """One Argon2id hash of PASSWORD with the production parameters (the settings' defaults)."""
    from campus.accounts.hashing import Passwords
    from campus.config import Settings

    defaults = Settings(env="test")
    passwords = Passwords(
        memory_kib=defaults.argon2_memory_kib,
        time_cost=defaults.argon2_time_cost,
        parallelism=defaults.argon2_parallelism,
        concurrency=1,
    )
    return asyncio.run(passwords.hash(PASSWORD))


# -- database plumbing ----------------------------------------------------------------------


def is_postgres(url: URL) -> bool:
    return url.get_backend_name() == "postgresql"


def sqlite_path(url: URL) -> Path:
    if not url.database or url.database == ":memory:":
        raise SystemExit("seed: an SQLite database needs a file path")
    return Path(url.database)


async def _pg_connect(url: URL, database: str | None = None) -> Any:
    import asyncpg

    return await asyncpg.connect(
        user=url.username,
        password=url.password,
        host=url.host or "127.0.0.1",
        port=url.port or 5432,
        database=database or url.database,
    )


async def _pg_prepare(url: URL, recreate: bool) -> None:
    admin = await _pg_connect(url, "postgres")
    try:
        name = url.database
        if not name or '"' in name:
            raise SystemExit("seed: bad database name")
        exists = await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if exists and recreate:
            await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            exists = False
        if not exists:
            await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()


def prepare_database(url: URL, *, recreate: bool) -> None:
    """Create the database (or drop and recreate it with ``recreate``)."""
    if is_postgres(url):
        asyncio.run(_pg_prepare(url, recreate))
        return
    path = sqlite_path(url)
    if recreate:
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    path.parent.mkdir(parents=True, exist_ok=True)


async def _pg_has_tables(url: URL) -> bool:
    conn = await _pg_connect(url)
    try:
        count = await conn.fetchval(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
        )
    finally:
        await conn.close()
    return bool(count)


def is_fresh(url: URL) -> bool:
    if is_postgres(url):
        return not asyncio.run(_pg_has_tables(url))
    path = sqlite_path(url)
    if not path.exists():
        return True
    with sqlite3.connect(path) as conn:
        return not conn.execute("SELECT count(*) FROM sqlite_master WHERE type='table'").fetchone()[
            0
        ]


def migrate(url_text: str) -> str:
    """Run Campus's migrations to head; returns the head revision."""
    from campus.config import Settings
    from campus.migrations import runner

    runner.upgrade(Settings(env="test", database_url=url_text), "head")
    return ",".join(sorted(runner.head_revisions()))


class Timer:
    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.last = self.started

    def lap(self, what: str, rows: int | None = None) -> None:
        now = time.perf_counter()
        took = now - self.last
        self.last = now
        rate = f"  ({rows / took:,.0f} rows/s)" if rows and took > 0 else ""
        count = f"{rows:>10,} rows " if rows is not None else " " * 16
        print(f"  {what:<28}{count}{took:7.2f} s{rate}", flush=True)

    @property
    def total(self) -> float:
        return time.perf_counter() - self.started


async def _pg_load(url: URL, plan: Plan, manifest: dict[str, Any], timer: Timer) -> None:
    import asyncpg

    conn = await _pg_connect(url)
    try:
        await conn.execute("SET maintenance_work_mem = '256MB'")
        await conn.execute("SET synchronous_commit = off")
        try:
            # Skip the per-row foreign-key triggers while loading: the rows are generated
            # consistent (tests/bench checks it). Needs a superuser; otherwise they run.
            await conn.execute("SET session_replication_role = replica")
        except asyncpg.InsufficientPrivilegeError:
            print("  (not a superuser: foreign keys are checked row by row)", flush=True)
        for table, columns, rows in plan.tables():
            indexes = await conn.fetch(
                """
                SELECT i.indexname, i.indexdef FROM pg_indexes i
                WHERE i.schemaname = 'public' AND i.tablename = $1
                  AND NOT EXISTS (
                      SELECT 1 FROM pg_constraint c
                      WHERE c.conname = i.indexname AND c.conrelid = $1::regclass)
                """,
                table,
            )
            uniques = await conn.fetch(
                "SELECT conname, pg_get_constraintdef(oid) AS definition FROM pg_constraint "
                "WHERE conrelid = $1::regclass AND contype = 'u'",
                table,
            )
            async with conn.transaction():
                for index in indexes:
                    await conn.execute(f'DROP INDEX "{index["indexname"]}"')
                for unique in uniques:
                    await conn.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{unique["conname"]}"')
                count = 0
                for chunk in _chunks(rows()):
                    await conn.copy_records_to_table(table, records=chunk, columns=list(columns))
                    count += len(chunk)
                timer.lap(f"copy {table}", count)
                for index in indexes:
                    await conn.execute(index["indexdef"])
                for unique in uniques:
                    await conn.execute(
                        f'ALTER TABLE {table} ADD CONSTRAINT "{unique["conname"]}" '
                        f"{unique['definition']}"
                    )
                await conn.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT coalesce(max(id), 0) + 1 FROM {table}), false)"
                )
            timer.lap(f"index {table} ({len(indexes) + len(uniques)})")
        # The load ran without triggers (replica mode): set the maintained counts.
        async with conn.transaction():
            for statement in RECOUNT:
                await conn.execute(statement)
        timer.lap("recount (campus.models.counters)")
        await conn.execute(
            f"CREATE TABLE {MANIFEST_TABLE} (id integer PRIMARY KEY, body text NOT NULL)"
        )
        await conn.execute(
            f"INSERT INTO {MANIFEST_TABLE} (id, body) VALUES (1, $1)", json.dumps(manifest)
        )
        # VACUUM too: the recount rewrote every course row, and index-only scans (the
        # filtered catalog counts) need the visibility map that VACUUM sets.
        await conn.execute("VACUUM ANALYZE")
        timer.lap("vacuum analyze")
    finally:
        await conn.close()


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, datetime):
        # SQLAlchemy's SQLite DATETIME storage format (UTCDateTime stores naive UTC).
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, bool):
        return int(value)
    return value


def _sqlite_load(path: Path, plan: Plan, manifest: dict[str, Any], timer: Timer) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("PRAGMA foreign_keys=OFF")
        conn.execute("PRAGMA cache_size=-262144")
        for table, columns, rows in plan.tables():
            # Indexes and the counting triggers are rebuilt after the load; the counts are
            # then set once (campus.models.counters.RECOUNT) instead of row by row.
            indexes = conn.execute(
                "SELECT name, sql FROM sqlite_master "
                "WHERE type IN ('index', 'trigger') AND tbl_name = ? AND sql IS NOT NULL",
                (table,),
            ).fetchall()
            placeholders = ", ".join("?" for _ in columns)
            insert = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders})"
            conn.execute("BEGIN")
            for name, sql in indexes:
                kind = "TRIGGER" if sql.lstrip().upper().startswith("CREATE TRIGGER") else "INDEX"
                conn.execute(f'DROP {kind} "{name}"')
            count = 0
            for chunk in _chunks(rows()):
                conn.executemany(insert, [tuple(map(_sqlite_value, row)) for row in chunk])
                count += len(chunk)
            timer.lap(f"insert {table}", count)
            for _name, sql in indexes:
                conn.execute(sql)
            conn.execute("COMMIT")
            timer.lap(f"index {table} ({len(indexes)})")
        conn.execute("BEGIN")
        for statement in RECOUNT:
            conn.execute(statement)
        conn.execute("COMMIT")
        timer.lap("recount (campus.models.counters)")
        conn.execute(f"CREATE TABLE {MANIFEST_TABLE} (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")
        conn.execute(
            f"INSERT INTO {MANIFEST_TABLE} (id, body) VALUES (1, ?)", (json.dumps(manifest),)
        )
        conn.execute("ANALYZE")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        timer.lap("analyze")
    finally:
        conn.close()


# -- manifest -----------------------------------------------------------------------------


async def _pg_manifest(url: URL) -> dict[str, Any] | None:
    import asyncpg

    try:
        conn = await _pg_connect(url)
    except (asyncpg.InvalidCatalogNameError, OSError):
        return None
    try:
        present = await conn.fetchval("SELECT to_regclass($1)", MANIFEST_TABLE)
        if present is None:
            return None
        body = await conn.fetchval(f"SELECT body FROM {MANIFEST_TABLE} WHERE id = 1")
    finally:
        await conn.close()
    return json.loads(body) if body else None


def read_manifest(url_text: str) -> dict[str, Any] | None:
    """The manifest stored by a finished seed, or None (no database, or not seeded)."""
    url = make_url(url_text)
    if is_postgres(url):
        return asyncio.run(_pg_manifest(url))
    path = sqlite_path(url)
    if not path.exists():
        return None
    with sqlite3.connect(path) as conn:
        try:
            row = conn.execute(f"SELECT body FROM {MANIFEST_TABLE} WHERE id = 1").fetchone()
        except sqlite3.OperationalError:
            return None
    return json.loads(row[0]) if row else None


#: The title of the tasks ``bench/run.py``'s ``create_task`` scenario (and its twin) adds.
WRITTEN_TASK_TITLE = "A benchmark task"


def forget_writes(url_text: str, manifest: dict[str, Any]) -> int:
    """Delete what an earlier run's write scenarios added (the benchmark student's created
    tasks), so that every run reads the seeded data: otherwise each run's ``create_task``
    grows the task list the next run measures (20,000 tasks after a few runs instead of
    500). Enrolling and completing the seeded lesson are idempotent and add nothing."""
    student = int(manifest["student"]["id"])
    sql = "DELETE FROM tasks WHERE owner_id = {owner} AND title = {title}"
    url = make_url(url_text)
    if is_postgres(url):

        async def delete() -> int:
            conn = await _pg_connect(url)
            try:
                status = await conn.execute(
                    sql.format(owner="$1", title="$2"), student, WRITTEN_TASK_TITLE
                )
                deleted = int(status.split()[-1])
                if deleted:
                    await conn.execute("VACUUM ANALYZE tasks")
            finally:
                await conn.close()
            return deleted

        return asyncio.run(delete())
    with sqlite3.connect(sqlite_path(url)) as conn:
        cursor = conn.execute(sql.format(owner="?", title="?"), (student, WRITTEN_TASK_TITLE))
        return cursor.rowcount


def update_manifest_revision(url_text: str, revision: str) -> None:
    """Record that the seeded database was migrated to ``revision`` (keeps the data)."""
    manifest = read_manifest(url_text)
    if manifest is None:
        return
    manifest["schema_revision"] = revision
    url = make_url(url_text)
    if is_postgres(url):

        async def write() -> None:
            conn = await _pg_connect(url)
            try:
                await conn.execute(
                    f"UPDATE {MANIFEST_TABLE} SET body = $1 WHERE id = 1", json.dumps(manifest)
                )
            finally:
                await conn.close()

        asyncio.run(write())
        return
    with sqlite3.connect(sqlite_path(url)) as conn:
        conn.execute(f"UPDATE {MANIFEST_TABLE} SET body = ? WHERE id = 1", (json.dumps(manifest),))


# -- entry point --------------------------------------------------------------------------


def seed(url_text: str, scale_name: str, *, recreate: bool = False) -> dict[str, Any]:
    url = make_url(url_text)
    scale = SCALES[scale_name]
    Plan(scale, "", _now())  # refuses an impossible scale before touching the database
    timer = Timer()
    where = url.render_as_string(hide_password=True)
    print(f"seed: scale {scale_name} into {where}", flush=True)
    prepare_database(url, recreate=recreate)
    if not is_fresh(url):
        raise SystemExit(f"seed: {where} is not empty; seed a fresh database or pass --recreate")
    revision = migrate(url_text)
    timer.lap(f"migrate (head {revision})")
    password_hash = hash_password()
    timer.lap("argon2 hash (once)")
    plan = Plan(scale, password_hash, _now())
    check_columns(plan)
    manifest = plan.manifest(scale_name, revision)
    if is_postgres(url):
        asyncio.run(_pg_load(url, plan, manifest, timer))
    else:
        _sqlite_load(sqlite_path(url), plan, manifest, timer)
    print(f"seed: done in {timer.total:.1f} s", flush=True)
    return manifest


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--scale", choices=sorted(SCALES), required=True)
    parser.add_argument(
        "--db",
        required=True,
        help="SQLAlchemy URL: sqlite+aiosqlite:///path.db or postgresql+asyncpg://...",
    )
    parser.add_argument(
        "--recreate", action="store_true", help="drop and recreate the database first"
    )
    parser.add_argument(
        "--print-manifest", action="store_true", help="print the stored manifest and exit"
    )
    args = parser.parse_args(argv)
    if args.print_manifest:
        manifest = read_manifest(args.db)
        if manifest is None:
            print("seed: no manifest (database not seeded)", file=sys.stderr)
            return 1
        print(json.dumps(manifest, indent=2))
        return 0
    manifest = seed(args.db, args.scale, recreate=args.recreate)
    print(json.dumps(manifest))
    return 0


if __name__ == "__main__":
    sys.exit(main())
