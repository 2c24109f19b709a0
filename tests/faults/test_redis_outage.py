"""Redis stopped under load (a redis-server of the test's own): the API keeps serving, rate
limits fall back to process memory (a warning and a metric) and still hold, /health says
"degraded", jobs run in the app process, socket frames still reach this instance's
sockets, and everything uses Redis again once it is back."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator

import httpx
import pytest
import redis as redis_sync
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from campus.config import Settings
from campus.ratelimit import REDIS_RETRY_SECONDS
from campus.realtime.broadcast import RedisBroadcaster
from tests.conftest import truncate_all
from tests.faults.load import Timeline, write_tasks
from tests.faults.servers import RedisServer, campus_serve


@pytest.fixture
async def committed(engine: AsyncEngine) -> AsyncIterator[AsyncEngine]:
    yield engine
    await truncate_all(engine)


def _metric(text: str, name: str) -> float:
    match = re.search(rf"^{name} ([0-9.e+]+)$", text, re.M)
    assert match, f"{name} missing from /metrics"
    return float(match.group(1))


def test_redis_outage_degrades_and_recovers(
    settings: Settings, redis_server: RedisServer, committed: AsyncEngine
) -> None:
    extra = {
        "CAMPUS_REDIS_URL": redis_server.url,
        "CAMPUS_REDIS_REQUIRED": "false",
        "CAMPUS_RATE_LIMITS_ENABLED": "true",
        "CAMPUS_RATE_LIMIT_API": "100000/minute",
        "CAMPUS_RATE_LIMIT_AUTH": "3/minute",
        "CAMPUS_JOBS_ENQUEUE_TIMEOUT_SECONDS": "1",
        "CAMPUS_HEALTH_TIMEOUT_SECONDS": "1",
    }
    probes: dict[str, object] = {}
    with campus_serve(settings.database_url, extra) as server:

        async def outage(timeline: Timeline) -> None:
            loop = asyncio.get_running_loop()
            timeline.fault_started = loop.time()
            redis_server.stop()
            await asyncio.sleep(0.5)
            async with httpx.AsyncClient(base_url=server.url, timeout=10) as c:
                probes["health"] = await c.get("/health")
                registered = await c.post(
                    "/api/v1/auth/register",
                    json={
                        "email": "during-outage@example.com",
                        "password": "fault-scenario-password-42",
                        "full_name": "Outage",
                    },
                )
                probes["register"] = registered.status_code
                probes["resets"] = [
                    (
                        await c.post("/api/v1/auth/password-reset", json={"email": "x@example.com"})
                    ).status_code
                    for _ in range(3)
                ]
            await asyncio.sleep(1.5)
            redis_server.start()  # a restart without persistence: an empty Redis
            timeline.fault_ended = loop.time()

        load = asyncio.run(write_tasks(server.url, clients=4, fault=outage, settle_seconds=4.0))

        health = httpx.get(f"{server.url}/health", timeout=10)
        deadline = time.monotonic() + 15
        while health.json()["redis"] != "ok" and time.monotonic() < deadline:
            time.sleep(0.2)
            health = httpx.get(f"{server.url}/health", timeout=10)
        # The limiter goes back to Redis at its first operation once the retry window
        # (REDIS_RETRY_SECONDS) has passed: make sure one API request comes after it.
        time.sleep(REDIS_RETRY_SECONDS + 0.5)
        assert httpx.get(f"{server.url}/api/v1/courses", timeout=10).status_code == 200
        metrics = httpx.get(f"{server.url}/metrics", timeout=10).text
        output = server.output

    # The API kept serving: every task write of every phase acknowledged.
    phases = load.by_phase()
    assert set(phases["during"]) == {"201"}, phases
    assert phases["during"]["201"] > 0
    assert set(phases["after"]) == {"201"}, phases

    degraded = probes["health"]
    assert isinstance(degraded, httpx.Response)
    assert degraded.status_code == 200
    assert degraded.json() == {"status": "degraded", "database": "ok", "redis": "error"}
    # The limits still held, in memory: register + 2 resets fill "3/minute", then 429.
    assert probes["register"] == 201
    assert probes["resets"] == [202, 202, 429]

    assert health.status_code == 200
    assert health.json() == {"status": "ok", "database": "ok", "redis": "ok"}
    assert _metric(metrics, "campus_ratelimit_fallback_total") > 0
    assert _metric(metrics, "campus_ratelimit_degraded") == 0
    assert "ratelimit_redis_unavailable" in output
    assert "ratelimit_redis_recovered" in output
    assert "job_enqueue_fallback" in output  # the verification mail ran in the app process
    assert "Traceback" not in output

    # Back on Redis: the counters of the requests since are there again.
    client = redis_sync.Redis.from_url(redis_server.url)
    try:
        assert any(key.startswith(b"campus") for key in client.scan_iter(count=1000))
    finally:
        client.close()


async def test_socket_fan_out_degrades_to_this_instance_and_resubscribes(
    redis_server: RedisServer,
) -> None:
    """Redis down: a publish still reaches this instance's own listeners. Back: the
    pub/sub connection subscribes again and frames from other instances arrive."""
    here_redis = Redis.from_url(redis_server.url, socket_connect_timeout=1)
    there_redis = Redis.from_url(redis_server.url, socket_connect_timeout=1)
    here = RedisBroadcaster(here_redis, prefix="fault")
    there = RedisBroadcaster(there_redis, prefix="fault")
    received: list[str] = []
    await here.start()
    await there.start()
    try:
        await here.subscribe("course:1", received.append)
        await there.publish([("course:1", "before")])
        await _until(lambda: "before" in received)

        redis_server.stop()
        await here.publish([("course:1", "during")])
        assert "during" in received  # delivered locally, at once

        redis_server.start()

        async def crosses() -> bool:
            await there.publish([("course:1", "after")])
            await asyncio.sleep(0.2)
            return "after" in received

        deadline = time.monotonic() + 20
        while not await crosses():
            assert time.monotonic() < deadline, f"never re-subscribed: {received}"
    finally:
        await here.stop()
        await there.stop()
        await here_redis.aclose()
        await there_redis.aclose()


async def _until(predicate: object, within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
