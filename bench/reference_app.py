"""The reference endpoints every benchmark ratio is computed against.

A minimal FastAPI app straight on a raw driver, no ORM, no middleware:

* ``GET /courses/{id}``: the one-row reference of issue 9 (one SELECT by primary key
  joined to the teacher's name, a Pydantic response model), on PostgreSQL (asyncpg pool)
  and SQLite (a few aiosqlite connections).
* ``/twin/...`` (PostgreSQL only): a raw twin of each Campus endpoint that bench/run.py
  measures, doing the *same work*: the same SQL statements Campus sends (the page and its
  total, the visibility and enrollment checks, captured from Campus's own statement log),
  the same JSON shape (the list envelope with its signed ``next_cursor`` and ``Link``
  header), the same bearer check (the JWT verified once and remembered, as Campus does,
  then one indexed lookup of the live session and its user), and for the writes the same
  statements in one transaction. Each Campus/twin ratio is then Campus's overhead, not a
  difference of work (issue 20).

    uv run bench/reference_app.py --db URL [--port 8799]

``bench/run.py`` starts it by itself (pinned to the same core as ``campus serve``) with
Campus's ``CAMPUS_SECRET_KEY``, so it verifies Campus's tokens and signs cursors alike.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import hmac
import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Generic, TypeVar

import jwt
import uvicorn
from fastapi import FastAPI, Header, HTTPException, Request, Response
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


# -- the twins (PostgreSQL): Campus's own statements, as its statement log shows them ----------

SESSION_SQL = (
    "SELECT users.id, users.email, users.full_name, users.role, users.password_hash, "
    "users.is_active, users.is_verified, users.reminder_emails, users.digest_emails, "
    "users.created_at, users.updated_at, auth_sessions.last_used_at "
    "FROM users JOIN auth_sessions ON auth_sessions.user_id = users.id "
    "WHERE auth_sessions.id = $1::VARCHAR AND auth_sessions.user_id = $2::INTEGER "
    "AND auth_sessions.kind = $3::VARCHAR AND auth_sessions.revoked_at IS NULL "
    "AND auth_sessions.expires_at > $4::TIMESTAMP WITH TIME ZONE AND users.is_active IS true"
)
CARD = (
    "courses.id, courses.slug, courses.title, courses.description, courses.level, "
    "courses.price_cents, courses.currency, courses.is_published, courses.teacher_id, "
    "courses.lessons_count, courses.students_count, courses.created_at, courses.updated_at, "
    "users.full_name AS teacher_name"
)
COURSE_SQL = (
    f"SELECT {CARD} FROM courses JOIN users ON users.id = courses.teacher_id "
    "WHERE courses.id = $1::INTEGER AND courses.is_published IS true"
)
COURSE_OF_TEACHER_SQL = (
    f"SELECT {CARD} FROM courses JOIN users ON users.id = courses.teacher_id "
    "WHERE courses.id = $1::INTEGER AND (courses.is_published IS true "
    "OR courses.teacher_id = $2::INTEGER)"
)
COURSE_ROW_SQL = (
    "SELECT courses.id, courses.slug, courses.title, courses.description, courses.level, "
    "courses.price_cents, courses.currency, courses.is_published, courses.teacher_id, "
    "courses.search_text, courses.created_at, courses.updated_at, courses.lessons_count, "
    "courses.students_count FROM courses "
    "WHERE courses.id = $1::INTEGER AND courses.is_published IS true"
)
CATALOG_TOTAL_SQL = "SELECT row_counts.value FROM row_counts WHERE row_counts.name = $1::VARCHAR"
CATALOG_SQL = (
    f"SELECT {CARD}, courses.created_at AS _cursor_0, courses.id AS _cursor_1 "
    "FROM courses JOIN users ON users.id = courses.teacher_id "
    "WHERE courses.is_published IS true ORDER BY courses.created_at DESC, courses.id DESC "
    "LIMIT $1::INTEGER OFFSET $2::INTEGER"
)
TASKS_TOTAL_SQL = "SELECT count(*) AS count_1 FROM tasks WHERE tasks.owner_id = $1::INTEGER"
TASKS_SQL = (
    "SELECT tasks.id, tasks.owner_id, tasks.title, tasks.description, tasks.status, "
    "tasks.priority, tasks.due_date, tasks.lesson_id, tasks.created_at, tasks.updated_at, "
    "tasks.completed_at, tasks.search_text, tasks.created_at AS _cursor_0, tasks.id AS _cursor_1 "
    "FROM tasks WHERE tasks.owner_id = $1::INTEGER ORDER BY tasks.created_at DESC, tasks.id DESC "
    "LIMIT $2::INTEGER OFFSET $3::INTEGER"
)
QUIZ_COLUMNS = (
    "(SELECT avg(coalesce((SELECT max(quiz_attempts.percent) AS max_2 FROM quiz_attempts "
    "WHERE quiz_attempts.quiz_id = quizzes.id AND quiz_attempts.user_id = {user} "
    "AND quiz_attempts.submitted_at IS NOT NULL), {zero})) AS avg_1 FROM quizzes "
    "WHERE quizzes.course_id = {course}) AS quiz_avg, "
    "(SELECT count(quizzes.id) AS count_2 FROM quizzes WHERE quizzes.course_id = {course} "
    "AND (EXISTS (SELECT * FROM quiz_attempts WHERE quiz_attempts.quiz_id = quizzes.id "
    "AND quiz_attempts.user_id = {user} AND quiz_attempts.passed IS true))) AS quiz_passed, "
    "(SELECT count(quizzes.id) AS count_3 FROM quizzes WHERE quizzes.course_id = {course}) "
    "AS quiz_total"
)
CABINET_TOTAL_SQL = (
    "SELECT count(*) AS count_1 FROM enrollments JOIN courses ON courses.id = "
    "enrollments.course_id WHERE enrollments.user_id = $1::INTEGER AND enrollments.status = $2 "
    "AND courses.is_published IS true"
)
CABINET_SQL = (
    f"SELECT {CARD}, enrollments.enrolled_at, "
    "(SELECT count(lesson_completions.id) AS count_1 FROM lesson_completions "
    "WHERE lesson_completions.user_id = $1::INTEGER AND lesson_completions.course_id = "
    "courses.id) AS completed, (SELECT max(lesson_completions.completed_at) AS max_1 "
    "FROM lesson_completions WHERE lesson_completions.user_id = $1::INTEGER AND "
    "lesson_completions.course_id = courses.id) AS last_completed, "
    + QUIZ_COLUMNS.format(user="$1::INTEGER", zero="$2::INTEGER", course="courses.id")
    + ", enrollments.enrolled_at AS _cursor_0, enrollments.id AS _cursor_1 "
    "FROM courses JOIN users ON users.id = courses.teacher_id JOIN enrollments ON "
    "enrollments.course_id = courses.id WHERE enrollments.user_id = $1::INTEGER AND "
    "enrollments.status = $3 AND courses.is_published IS true "
    "ORDER BY enrollments.enrolled_at DESC, enrollments.id DESC "
    "LIMIT $4::INTEGER OFFSET $5::INTEGER"
)
STUDENTS_TOTAL_SQL = "SELECT courses.students_count FROM courses WHERE courses.id = $1::INTEGER"
STUDENTS_SQL = (
    "SELECT users.id, users.email, users.full_name, users.role, users.password_hash, "
    "users.is_active, users.is_verified, users.reminder_emails, users.digest_emails, "
    "users.created_at, users.updated_at, enrollments.enrolled_at, "
    "(SELECT count(lesson_completions.id) AS count_1 FROM lesson_completions WHERE "
    "lesson_completions.user_id = users.id AND lesson_completions.course_id = $1::INTEGER) "
    "AS completed, (SELECT max(lesson_completions.completed_at) AS max_1 FROM "
    "lesson_completions WHERE lesson_completions.user_id = users.id AND "
    "lesson_completions.course_id = $1::INTEGER) AS last_completed, "
    "(SELECT courses.lessons_count FROM courses WHERE courses.id = $2::INTEGER) AS total, "
    + QUIZ_COLUMNS.format(user="users.id", zero="$3::INTEGER", course="$4::INTEGER")
    + ", enrollments.enrolled_at AS _cursor_0, enrollments.id AS _cursor_1 "
    "FROM users JOIN enrollments ON enrollments.user_id = users.id "
    "WHERE enrollments.course_id = $4::INTEGER AND enrollments.status = $5 "
    "ORDER BY enrollments.enrolled_at DESC, enrollments.id DESC "
    "LIMIT $6::INTEGER OFFSET $7::INTEGER"
)
ENROLLED_SQL = (
    "SELECT EXISTS (SELECT * FROM enrollments WHERE enrollments.user_id = $1::INTEGER "
    "AND enrollments.course_id = $2::INTEGER AND enrollments.status = $3) AS anon_1"
)
MESSAGES_TOTAL_SQL = (
    "SELECT count(*) AS count_1 FROM chat_messages WHERE chat_messages.course_id = $1::INTEGER"
)
MESSAGES_SQL = (
    "SELECT chat_messages.id, chat_messages.course_id, chat_messages.author_id, "
    "chat_messages.body, chat_messages.created_at, chat_messages.edited_at, users.full_name, "
    "chat_messages.created_at AS _cursor_0, chat_messages.id AS _cursor_1 "
    "FROM chat_messages LEFT OUTER JOIN users ON users.id = chat_messages.author_id "
    "WHERE chat_messages.course_id = $1::INTEGER "
    "ORDER BY chat_messages.created_at DESC, chat_messages.id DESC "
    "LIMIT $2::INTEGER OFFSET $3::INTEGER"
)
NOTIFICATIONS_TOTAL_SQL = (
    "SELECT count(*) AS count_1 FROM notifications WHERE notifications.user_id = $1::INTEGER"
)
NOTIFICATIONS_SQL = (
    "SELECT notifications.id, notifications.user_id, notifications.kind, notifications.title, "
    "notifications.link, notifications.data, notifications.created_at, notifications.read_at, "
    "notifications.created_at AS _cursor_0, notifications.id AS _cursor_1 FROM notifications "
    "WHERE notifications.user_id = $1::INTEGER "
    "ORDER BY notifications.created_at DESC, notifications.id DESC "
    "LIMIT $2::INTEGER OFFSET $3::INTEGER"
)
TASK_INSERT_SQL = (
    "INSERT INTO tasks (owner_id, title, description, status, priority, due_date, lesson_id, "
    "created_at, updated_at, completed_at, search_text) VALUES ($1::INTEGER, $2::VARCHAR, "
    "$3::VARCHAR, $4, $5, $6::TIMESTAMP WITH TIME ZONE, $7::INTEGER, "
    "$8::TIMESTAMP WITH TIME ZONE, $9::TIMESTAMP WITH TIME ZONE, "
    "$10::TIMESTAMP WITH TIME ZONE, $11::VARCHAR) RETURNING tasks.id, tasks.owner_id, "
    "tasks.title, tasks.description, tasks.status, tasks.priority, tasks.due_date, "
    "tasks.lesson_id, tasks.created_at, tasks.updated_at, tasks.completed_at"
)
# Campus's completion on PostgreSQL (campus.learning.repository._gated_completion): the
# course, enrollment, lesson and quiz checks, the progress so far and the insert, in one
# statement.
COMPLETION_SQL = (
    "WITH gate AS (SELECT EXISTS (SELECT * FROM enrollments WHERE enrollments.user_id = "
    "$1::INTEGER AND enrollments.course_id = courses.id AND enrollments.status = $5) AS "
    "enrolled, EXISTS (SELECT * FROM lessons WHERE lessons.id = $2::INTEGER AND "
    "lessons.course_id = courses.id) AS lesson_found, EXISTS (SELECT * FROM quizzes WHERE "
    "quizzes.lesson_id = $2::INTEGER AND NOT (EXISTS (SELECT * FROM quiz_attempts WHERE "
    "quiz_attempts.quiz_id = quizzes.id AND quiz_attempts.user_id = $1::INTEGER AND "
    "quiz_attempts.passed IS true))) AS quiz_blocks, (SELECT count(lesson_completions.id) AS "
    "count_1 FROM lesson_completions WHERE lesson_completions.user_id = $1::INTEGER AND "
    "lesson_completions.course_id = courses.id) AS completed, courses.lessons_count AS total,"
    " (SELECT max(lesson_completions.completed_at) AS max_1 FROM lesson_completions WHERE "
    "lesson_completions.user_id = $1::INTEGER AND lesson_completions.course_id = courses.id) "
    "AS last, (SELECT avg(coalesce((SELECT max(quiz_attempts.percent) AS max_2 FROM "
    "quiz_attempts WHERE quiz_attempts.quiz_id = quizzes.id AND quiz_attempts.user_id = "
    "$1::INTEGER AND quiz_attempts.submitted_at IS NOT NULL), $6::INTEGER)) AS avg_1 FROM "
    "quizzes WHERE quizzes.course_id = courses.id) AS quiz_score, (SELECT count(quizzes.id) "
    "AS count_2 FROM quizzes WHERE quizzes.course_id = courses.id AND (EXISTS (SELECT * FROM "
    "quiz_attempts WHERE quiz_attempts.quiz_id = quizzes.id AND quiz_attempts.user_id = "
    "$1::INTEGER AND quiz_attempts.passed IS true))) AS quizzes_passed, (SELECT "
    "count(quizzes.id) AS count_3 FROM quizzes WHERE quizzes.course_id = courses.id) AS "
    "quizzes_total FROM courses WHERE courses.id = $3::INTEGER AND courses.is_published IS "
    "true), inserted AS (INSERT INTO lesson_completions (user_id, lesson_id, course_id, "
    "completed_at) SELECT $1::INTEGER AS anon_1, $2::INTEGER AS anon_2, $3::INTEGER AS "
    "anon_3, $4::TIMESTAMP WITH TIME ZONE AS anon_4 FROM gate WHERE gate.enrolled AND "
    "gate.lesson_found AND NOT gate.quiz_blocks ON CONFLICT (user_id, lesson_id) DO NOTHING "
    "RETURNING lesson_completions.id) SELECT gate.enrolled, gate.lesson_found, "
    "gate.quiz_blocks, gate.completed, gate.total, gate.last, gate.quiz_score, "
    "gate.quizzes_passed, gate.quizzes_total, EXISTS (SELECT inserted.id FROM inserted) AS "
    "created FROM gate"
)
ENROLLMENT_COLUMNS_SQL = (
    "enrollments.id, enrollments.user_id, enrollments.course_id, enrollments.status, "
    "enrollments.enrolled_at"
)
# Campus's enrollment gate (campus.learning.repository._enrollment_gate).
ENROLL_GATE_SQL = (
    f"SELECT courses.price_cents, courses.currency, {ENROLLMENT_COLUMNS_SQL} "
    "FROM courses LEFT OUTER JOIN enrollments ON enrollments.course_id = courses.id AND "
    "enrollments.user_id = $1::INTEGER AND enrollments.status = $2 "
    "WHERE courses.id = $3::INTEGER AND courses.is_published IS true"
)
ENROLL_UPSERT_SQL = (
    "INSERT INTO enrollments (user_id, course_id, status, enrolled_at) VALUES ($1::INTEGER, "
    "$2::INTEGER, $3, $4::TIMESTAMP WITH TIME ZONE) ON CONFLICT (user_id, course_id) "
    "DO UPDATE SET status = excluded.status, enrolled_at = excluded.enrolled_at "
    f"WHERE enrollments.status != $5 RETURNING {ENROLLMENT_COLUMNS_SQL}"
)

T = TypeVar("T")


class CourseRead(BaseModel):
    id: int
    slug: str
    title: str
    description: str
    level: str
    price_cents: int
    currency: str
    is_published: bool
    teacher: TeacherRef
    lessons_count: int
    students_count: int
    created_at: datetime
    updated_at: datetime


class ProgressRead(BaseModel):
    completed_lessons: int
    total_lessons: int
    percent: int
    completed_at: datetime | None
    quiz_score: int | None
    quizzes_passed: int
    quizzes_total: int


class CabinetItem(BaseModel):
    course: CourseRead
    enrolled_at: datetime
    progress: ProgressRead


class StudentUser(BaseModel):
    id: int
    email: str
    full_name: str


class StudentItem(BaseModel):
    user: StudentUser
    enrolled_at: datetime
    progress: ProgressRead


class TaskRead(BaseModel):
    id: int
    title: str
    description: str | None
    status: str
    priority: str
    is_completed: bool
    due_date: datetime | None
    lesson_id: int | None
    owner_id: int
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None


class TaskCreate(BaseModel):
    title: str
    description: str | None = None
    status: str = "todo"
    priority: str = "medium"
    due_date: datetime | None = None
    lesson_id: int | None = None


class AuthorRef(BaseModel):
    id: int
    full_name: str


class MessageRead(BaseModel):
    id: int
    course_id: int
    author: AuthorRef | None
    body: str
    created_at: datetime
    edited_at: datetime | None


class NotificationRead(BaseModel):
    id: int
    kind: str
    title: str
    link: str | None
    data: dict[str, Any]
    created_at: datetime
    read_at: datetime | None
    is_read: bool


class EnrollmentRead(BaseModel):
    id: int
    course_id: int
    user_id: int
    status: str
    enrolled_at: datetime


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    page: int
    page_size: int
    pages: int
    next_cursor: str | None


def _course_read(row: Any) -> CourseRead:
    return CourseRead(
        id=row["id"],
        slug=row["slug"],
        title=row["title"],
        description=row["description"],
        level=row["level"],
        price_cents=row["price_cents"],
        currency=row["currency"],
        is_published=row["is_published"],
        teacher=TeacherRef(id=row["teacher_id"], full_name=row["teacher_name"]),
        lessons_count=row["lessons_count"],
        students_count=row["students_count"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def _progress(
    completed: int, total: int, last: datetime | None, score: Any, passed: Any, quizzes: Any
) -> ProgressRead:
    done = total > 0 and completed >= total
    return ProgressRead(
        completed_lessons=completed,
        total_lessons=total,
        percent=completed * 100 // total if total else 0,
        completed_at=last if done else None,
        quiz_score=None if score is None else int(float(score) + 0.5),
        quizzes_passed=int(passed or 0),
        quizzes_total=int(quizzes or 0),
    )


class Cursors:
    """Campus's keyset cursor (campus.kit.pagination.cursor), signed with the same key."""

    def __init__(self, secret: str) -> None:
        self.key = hashlib.sha256(b"campus-cursor\x00" + secret.encode()).digest()

    def encode(self, sort: str, created_at: datetime, row_id: int, offset: int) -> str:
        payload = {"s": sort, "o": offset, "v": [["t", created_at.isoformat()], ["i", row_id]]}
        body = base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode())
        body = body.rstrip(b"=")
        mac = hmac.new(self.key, body, hashlib.sha256).digest()[:16]
        return f"{body.decode()}.{base64.urlsafe_b64encode(mac).decode().rstrip('=')}"


@lru_cache(maxsize=4096)
def _verified(token: str, secret: str) -> dict[str, Any]:
    payload: dict[str, Any] = jwt.decode(
        token, secret, algorithms=["HS256"], options={"require": ["sub", "sid", "exp", "type"]}
    )
    return payload


class Twins:
    """The raw twins of Campus's endpoints, on one asyncpg pool."""

    def __init__(self, source: PostgresSource, secret: str) -> None:
        self.source = source
        self.secret = secret
        self.cursors = Cursors(secret)

    async def user(self, conn: Any, authorization: str | None) -> Any:
        """The bearer check: the token verified once (remembered), then one indexed lookup."""
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise HTTPException(status_code=401)
        try:
            claims = _verified(token, self.secret)
        except jwt.PyJWTError as exc:
            raise HTTPException(status_code=401) from exc
        now = datetime.now(UTC)
        if claims["exp"] <= now.timestamp() or claims["type"] != "access":
            raise HTTPException(status_code=401)
        row = await conn.fetchrow(SESSION_SQL, claims["sid"], int(claims["sub"]), "api", now)
        if row is None:
            raise HTTPException(status_code=401)
        return row

    def page(
        self,
        request: Request,
        response: Response,
        items: list[Any],
        rows: list[Any],
        total: int,
        limit: int,
        offset: int,
        sort: str,
    ) -> dict[str, Any]:
        cursor = None
        if rows and offset + len(rows) < total:
            last = rows[-1]
            cursor = self.cursors.encode(sort, last["_cursor_0"], last["_cursor_1"], offset + limit)
            url = request.url.include_query_params(cursor=cursor)
            response.headers["Link"] = f'<{url}>; rel="next"'
        return {
            "items": items,
            "total": total,
            "page": offset // limit + 1,
            "page_size": limit,
            "pages": (total + limit - 1) // limit,
            "next_cursor": cursor,
        }


def add_twins(app: FastAPI, twins: Twins) -> None:
    pool = lambda: twins.source.pool  # noqa: E731

    @app.get("/twin/courses/{course_id}", response_model=CourseRead)
    async def course(course_id: int) -> CourseRead:
        async with pool().acquire() as conn:
            row = await conn.fetchrow(COURSE_SQL, course_id)
        if row is None:
            raise HTTPException(status_code=404)
        return _course_read(row)

    @app.get("/twin/courses", response_model=Page[CourseRead])
    async def catalog(request: Request, response: Response, limit: int = 20) -> Any:
        async with pool().acquire() as conn:
            total = await conn.fetchval(CATALOG_TOTAL_SQL, "courses_published")
            rows = await conn.fetch(CATALOG_SQL, limit, 0)
        items = [_course_read(r) for r in rows]
        return twins.page(request, response, items, rows, total, limit, 0, "-created_at")

    @app.get("/twin/tasks", response_model=Page[TaskRead])
    async def tasks(
        request: Request,
        response: Response,
        limit: int = 20,
        authorization: str | None = Header(None),
    ) -> Any:
        async with pool().acquire() as conn:
            user = await twins.user(conn, authorization)
            total = await conn.fetchval(TASKS_TOTAL_SQL, user["id"])
            rows = await conn.fetch(TASKS_SQL, user["id"], limit, 0)
        items = [
            TaskRead(
                id=r["id"],
                title=r["title"],
                description=r["description"],
                status=r["status"],
                priority=r["priority"],
                is_completed=r["status"] == "completed",
                due_date=r["due_date"],
                lesson_id=r["lesson_id"],
                owner_id=r["owner_id"],
                created_at=r["created_at"],
                updated_at=r["updated_at"],
                completed_at=r["completed_at"],
            )
            for r in rows
        ]
        return twins.page(request, response, items, rows, total, limit, 0, "-created_at")

    @app.get("/twin/me/courses", response_model=Page[CabinetItem])
    async def cabinet(
        request: Request,
        response: Response,
        limit: int = 20,
        authorization: str | None = Header(None),
    ) -> Any:
        async with pool().acquire() as conn:
            user = await twins.user(conn, authorization)
            total = await conn.fetchval(CABINET_TOTAL_SQL, user["id"], "active")
            rows = await conn.fetch(CABINET_SQL, user["id"], 0, "active", limit, 0)
        items = [
            CabinetItem(
                course=_course_read(r),
                enrolled_at=r["enrolled_at"],
                progress=_progress(
                    r["completed"],
                    r["lessons_count"],
                    r["last_completed"],
                    r["quiz_avg"],
                    r["quiz_passed"],
                    r["quiz_total"],
                ),
            )
            for r in rows
        ]
        return twins.page(request, response, items, rows, total, limit, 0, "-enrolled_at")

    @app.get("/twin/courses/{course_id}/students", response_model=Page[StudentItem])
    async def students(
        request: Request,
        response: Response,
        course_id: int,
        limit: int = 20,
        authorization: str | None = Header(None),
    ) -> Any:
        async with pool().acquire() as conn:
            user = await twins.user(conn, authorization)
            course = await conn.fetchrow(COURSE_OF_TEACHER_SQL, course_id, user["id"])
            if course is None:
                raise HTTPException(status_code=404)
            if course["teacher_id"] != user["id"] and user["role"] != "admin":
                raise HTTPException(status_code=403)
            total = await conn.fetchval(STUDENTS_TOTAL_SQL, course_id)
            rows = await conn.fetch(
                STUDENTS_SQL, course_id, course_id, 0, course_id, "active", limit, 0
            )
        items = [
            StudentItem(
                user=StudentUser(id=r["id"], email=r["email"], full_name=r["full_name"]),
                enrolled_at=r["enrolled_at"],
                progress=_progress(
                    r["completed"],
                    r["total"],
                    r["last_completed"],
                    r["quiz_avg"],
                    r["quiz_passed"],
                    r["quiz_total"],
                ),
            )
            for r in rows
        ]
        return twins.page(request, response, items, rows, total, limit, 0, "-enrolled_at")

    @app.get("/twin/courses/{course_id}/messages", response_model=Page[MessageRead])
    async def messages(
        request: Request,
        response: Response,
        course_id: int,
        limit: int = 20,
        authorization: str | None = Header(None),
    ) -> Any:
        async with pool().acquire() as conn:
            user = await twins.user(conn, authorization)
            course = await conn.fetchrow(COURSE_ROW_SQL, course_id)
            if course is None:
                raise HTTPException(status_code=404)
            staff = course["teacher_id"] == user["id"] or user["role"] == "admin"
            if not staff and not await conn.fetchval(ENROLLED_SQL, user["id"], course_id, "active"):
                raise HTTPException(status_code=403)
            total = await conn.fetchval(MESSAGES_TOTAL_SQL, course_id)
            rows = await conn.fetch(MESSAGES_SQL, course_id, limit, 0)
        items = [
            MessageRead(
                id=r["id"],
                course_id=r["course_id"],
                author=None
                if r["author_id"] is None
                else AuthorRef(id=r["author_id"], full_name=r["full_name"]),
                body=r["body"],
                created_at=r["created_at"],
                edited_at=r["edited_at"],
            )
            for r in rows
        ]
        return twins.page(request, response, items, rows, total, limit, 0, "-created_at")

    @app.get("/twin/notifications", response_model=Page[NotificationRead])
    async def notifications(
        request: Request,
        response: Response,
        limit: int = 20,
        authorization: str | None = Header(None),
    ) -> Any:
        async with pool().acquire() as conn:
            user = await twins.user(conn, authorization)
            total = await conn.fetchval(NOTIFICATIONS_TOTAL_SQL, user["id"])
            rows = await conn.fetch(NOTIFICATIONS_SQL, user["id"], limit, 0)
        items = [
            NotificationRead(
                id=r["id"],
                kind=r["kind"],
                title=r["title"],
                link=r["link"],
                data=json.loads(r["data"]),
                created_at=r["created_at"],
                read_at=r["read_at"],
                is_read=r["read_at"] is not None,
            )
            for r in rows
        ]
        return twins.page(request, response, items, rows, total, limit, 0, "-created_at")

    # -- writes: the same statements as Campus, in one transaction ---------------------------

    @app.post("/twin/tasks", response_model=TaskRead, status_code=201)
    async def create_task(body: TaskCreate, authorization: str | None = Header(None)) -> Any:
        now = datetime.now(UTC)
        async with pool().acquire() as conn, conn.transaction():
            user = await twins.user(conn, authorization)
            completed = now if body.status == "completed" else None
            search = "\n".join(filter(None, (body.title, body.description))).casefold()
            row = await conn.fetchrow(
                TASK_INSERT_SQL,
                user["id"],
                body.title,
                body.description,
                body.status,
                body.priority,
                body.due_date,
                body.lesson_id,
                now,
                now,
                completed,
                search,
            )
        return TaskRead(**dict(row), is_completed=row["status"] == "completed")

    @app.put(
        "/twin/courses/{course_id}/lessons/{lesson_id}/completion", response_model=ProgressRead
    )
    async def complete_lesson(
        course_id: int, lesson_id: int, authorization: str | None = Header(None)
    ) -> Any:
        now = datetime.now(UTC)
        async with pool().acquire() as conn, conn.transaction():
            user = await twins.user(conn, authorization)
            uid = user["id"]
            gate = await conn.fetchrow(COMPLETION_SQL, uid, lesson_id, course_id, now, "active", 0)
            if gate is None:
                raise HTTPException(status_code=404)
            if not gate["enrolled"]:
                raise HTTPException(status_code=403)
            if not gate["lesson_found"]:
                raise HTTPException(status_code=404)
            if gate["quiz_blocks"]:
                raise HTTPException(status_code=409)
            created = gate["created"]
        last = gate["last"]
        if created and (last is None or now > last):
            last = now
        return _progress(
            gate["completed"] + created,
            gate["total"],
            last,
            gate["quiz_score"],
            gate["quizzes_passed"],
            gate["quizzes_total"],
        )

    @app.post("/twin/courses/{course_id}/enrollment", response_model=EnrollmentRead)
    async def enroll(
        course_id: int, response: Response, authorization: str | None = Header(None)
    ) -> Any:
        now = datetime.now(UTC)
        async with pool().acquire() as conn, conn.transaction():
            user = await twins.user(conn, authorization)
            uid = user["id"]
            gate = await conn.fetchrow(ENROLL_GATE_SQL, uid, "active", course_id)
            if gate is None:
                raise HTTPException(status_code=404)
            row: Any = gate
            created = gate["id"] is None
            if created:  # not the benchmark's path (enrolled after the first request)
                async with conn.transaction():
                    row = await conn.fetchrow(
                        ENROLL_UPSERT_SQL, uid, course_id, "active", now, "active"
                    )
        response.status_code = 201 if created else 200
        return EnrollmentRead(
            id=row["id"],
            course_id=row["course_id"],
            user_id=row["user_id"],
            status=row["status"],
            enrolled_at=row["enrolled_at"],
        )


def create_app(database_url: str, secret_key: str | None = None) -> FastAPI:
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

    secret = secret_key or os.environ.get("CAMPUS_SECRET_KEY")
    if isinstance(source, PostgresSource) and secret:
        add_twins(app, Twins(source, secret))
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
