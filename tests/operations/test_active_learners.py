"""campus_active_learners{window}: distinct learners of the last hour and day, counted after
the commit of an enrollment or a completion; exact in one process, shared through Redis
HyperLogLogs across instances; Redis failing falls back to this process's count."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession

from campus.config import Settings
from campus.models.accounts import UserRole
from campus.operations import activity
from campus.operations.activity import LearnerActivity, learner_active
from tests.conftest import REDIS_TEST_URL, service_unavailable
from tests.factories import auth_headers, create_course, create_user

NOW = 1_800_000_000.0  # a fixed clock: buckets are five minutes


@pytest.fixture(autouse=True)
def no_pending() -> None:
    activity._pending.clear()


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    client = Redis.from_url(REDIS_TEST_URL, socket_connect_timeout=2)
    try:
        await client.ping()
    except Exception as exc:
        await client.aclose()
        service_unavailable(f"Redis at {REDIS_TEST_URL} is unreachable: {exc}")
    yield client
    await client.aclose()


async def test_windows_in_one_process() -> None:
    counter = LearnerActivity(None, key_prefix="unused")
    for user_id in (1, 2, 1):
        learner_active(user_id)
    assert await counter.flush(NOW) == {"1h": 2, "24h": 2}
    learner_active(3)
    assert await counter.flush(NOW + 30 * 60) == {"1h": 3, "24h": 3}
    # Two hours on: the first two left the hour, not the day.
    assert await counter.flush(NOW + 2 * 3600) == {"1h": 0, "24h": 3}
    learner_active(1)
    assert await counter.flush(NOW + 2 * 3600 + 1) == {"1h": 1, "24h": 3}
    assert await counter.flush(NOW + 26 * 3600 + 30 * 60) == {"1h": 0, "24h": 0}


async def test_instances_share_the_count_through_redis(redis: Redis) -> None:
    prefix = f"campus-test-{uuid.uuid4().hex[:8]}"
    one = LearnerActivity(redis, key_prefix=prefix)
    two = LearnerActivity(redis, key_prefix=prefix)
    try:
        for user_id in (1, 2):
            learner_active(user_id)
        await one.flush(NOW)
        for user_id in (2, 3):
            learner_active(user_id)
        assert await two.flush(NOW + 60) == {"1h": 3, "24h": 3}
        assert await one.flush(NOW + 120) == {"1h": 3, "24h": 3}
        assert await one.flush(NOW + 3 * 3600) == {"1h": 0, "24h": 3}
        ttl = await redis.ttl(one.key(activity.bucket_of(NOW)))
        assert 86400 < ttl <= activity.KEEP_SECONDS
    finally:
        keys = [k async for k in redis.scan_iter(match=f"{prefix}:*")]
        if keys:
            await redis.delete(*keys)


async def test_redis_down_counts_this_process_and_catches_up(redis: Redis) -> None:
    dead = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5)
    counter = LearnerActivity(dead, key_prefix="campus-test-dead")
    learner_active(7)
    learner_active(8)
    assert await counter.flush(NOW) == {"1h": 2, "24h": 2}  # never raises
    assert activity._pending == {7, 8}  # kept for Redis when it is back
    await dead.aclose()
    prefix = f"campus-test-{uuid.uuid4().hex[:8]}"
    counter.redis = redis
    counter.key_prefix = prefix
    try:
        assert await counter.flush(NOW + 1) == {"1h": 2, "24h": 2}
        assert activity._pending == set()
    finally:
        keys = [k async for k in redis.scan_iter(match=f"{prefix}:*")]
        if keys:
            await redis.delete(*keys)


def _reading(text: str, window: str) -> float:
    match = re.search(rf'^campus_active_learners{{window="{window}"}} (\S+)$', text, re.MULTILINE)
    assert match is not None, "campus_active_learners is not exported"
    return float(match.group(1))


async def test_enrolling_and_completing_make_an_active_learner(
    app: FastAPI, client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    teacher = await create_user(session, settings, role=UserRole.TEACHER)
    student = await create_user(session, settings)
    idle = await create_user(session, settings)
    course = await create_course(session, teacher, lessons=1)
    headers = await auth_headers(session, settings, student)
    await auth_headers(session, settings, idle)
    counter: LearnerActivity = app.state.activity
    await counter.flush()
    before = _reading((await client.get("/metrics")).text, "1h")

    enroll = await client.post(f"/api/v1/courses/{course.id}/enrollment", headers=headers)
    assert enroll.status_code == 201
    lessons = (await client.get(f"/api/v1/courses/{course.id}/lessons", headers=headers)).json()
    done = f"/api/v1/courses/{course.id}/lessons/{lessons['items'][0]['id']}/completion"
    assert (await client.put(done, headers=headers)).status_code == 200
    # A refused action (a course that does not exist) counts nobody.
    missing = await client.post("/api/v1/courses/999999/enrollment", headers=headers)
    assert missing.status_code == 404
    assert activity._pending == {student.id}

    await counter.flush(time.time())
    text = (await client.get("/metrics")).text
    assert _reading(text, "1h") == before + 1
    assert _reading(text, "24h") >= 1
