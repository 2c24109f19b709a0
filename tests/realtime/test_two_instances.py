"""Fan-out through Redis: two `campus serve` processes on one Redis; a message posted
through one reaches a socket on the other, and so does a notification."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import redis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from websockets.asyncio.client import connect

from campus.config import Settings
from campus.models.accounts import UserRole
from tests.conftest import REDIS_TEST_URL, service_unavailable, truncate_all
from tests.factories import create_course, enroll
from tests.realtime.liveserver import Served, campus_serve
from tests.realtime.test_socket import frame, member, quiet, send, ticket


@pytest.fixture(scope="module")
def pair(settings: Settings) -> Iterator[tuple[Served, Served]]:
    try:
        redis.Redis.from_url(REDIS_TEST_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        service_unavailable(f"Redis at {REDIS_TEST_URL} is unreachable: {exc}")
    extra = {
        "CAMPUS_REDIS_URL": REDIS_TEST_URL,
        "CAMPUS_REALTIME_CHANNEL_PREFIX": f"campus-test-{uuid.uuid4().hex[:8]}",
        "CAMPUS_RATE_LIMIT_KEY_PREFIX": f"campus-test-{uuid.uuid4().hex[:8]}",
    }
    with campus_serve(settings, extra) as one, campus_serve(settings, extra) as two:
        yield one, two


@pytest.fixture
async def db(engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    async with AsyncSession(engine, expire_on_commit=False) as session:
        yield session
    await truncate_all(engine)


async def test_a_message_crosses_instances(
    pair: tuple[Served, Served], db: AsyncSession, settings: Settings
) -> None:
    one, two = pair
    teacher = await member(db, settings, role=UserRole.TEACHER, full_name="Tea")
    student = await member(db, settings, full_name="Stu")
    course = await create_course(db, teacher.user)
    await enroll(db, student.user, course)
    await db.commit()
    async with (
        connect(f"{one.ws_url}?ticket={await ticket(one, student)}") as on_one,
        connect(f"{two.ws_url}?ticket={await ticket(two, teacher)}") as on_two,
    ):
        for ws in (on_one, on_two):
            await send(ws, type="subscribe", course_id=course.id)
            assert (await frame(ws))["type"] == "subscribed"
        # A socket message on instance one reaches the socket on instance two...
        await send(on_one, type="chat.send", course_id=course.id, body="across")
        got = await frame(on_two)
        assert got["type"] == "chat.message"
        assert got["message"]["body"] == "across"
        assert (await frame(on_one))["message"]["body"] == "across"
        # ...and a REST post on instance two reaches the socket on instance one.
        async with httpx.AsyncClient(base_url=two.url) as client:
            posted = await client.post(
                f"/api/v1/courses/{course.id}/messages",
                json={"body": "back"},
                headers=teacher.headers,
            )
            assert posted.status_code == 201
            assert (await frame(on_one))["message"]["id"] == posted.json()["id"]
            assert (await frame(on_two))["message"]["id"] == posted.json()["id"]
            # A notification made on instance two reaches the student's socket on one.
            lesson = await client.post(
                f"/api/v1/courses/{course.id}/lessons",
                json={"title": "Across", "content": "c"},
                headers=teacher.headers,
            )
            assert lesson.status_code == 201
        note = await frame(on_one)
        assert note["type"] == "notification"
        assert note["notification"]["data"]["lesson_title"] == "Across"
        # After unsubscribing, instance one gets nothing more for the course.
        await send(on_one, type="unsubscribe", course_id=course.id)
        assert (await frame(on_one))["type"] == "unsubscribed"
        await send(on_two, type="chat.send", course_id=course.id, body="only two")
        assert (await frame(on_two))["message"]["body"] == "only two"
        assert await quiet(on_one) == []
