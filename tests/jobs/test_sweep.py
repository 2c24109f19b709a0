"""The sweep that takes back a dead worker's jobs, against real Redis: a job a live worker
has just taken (in the active list, not yet marked active) is left to it; one whose
heartbeat stopped, one still unmarked at the next sweep, and a lost record are taken back."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest
from saq.job import Status

from campus.config import Settings
from campus.jobs.redisqueue import CampusRedisQueue, make_job


@pytest.fixture
async def redis_queue(job_settings: Settings) -> AsyncIterator[CampusRedisQueue]:
    queue = CampusRedisQueue.for_settings(job_settings)
    await queue.connect()
    yield queue
    await queue.close()


async def _taken(queue: CampusRedisQueue, settings: Settings, **fields: object) -> str:
    """A job moved to the active list as a worker's BLMOVE does, with ``fields`` stored."""
    job = make_job(settings, "sample.effect", {"key": "swept"})
    await queue.enqueue(job)
    dequeued = await queue.dequeue(timeout=1)
    assert dequeued is not None
    for name, value in fields.items():
        setattr(dequeued, name, value)
    await queue.redis.set(dequeued.id, queue.serialize(dequeued))
    return dequeued.id


async def _active(queue: CampusRedisQueue) -> set[str]:
    return {k.decode() for k in await queue.redis.lrange(queue._active, 0, -1)}


async def test_a_job_just_taken_is_left_to_its_worker(
    redis_queue: CampusRedisQueue, job_settings: Settings
) -> None:
    now = int(time.time() * 1000)
    just_taken = await _taken(redis_queue, job_settings)  # still "queued": BLMOVE, no update yet
    running = await _taken(
        redis_queue, job_settings, status=Status.ACTIVE, started=now, touched=now
    )
    silent = await _taken(
        redis_queue,
        job_settings,
        status=Status.ACTIVE,
        started=now - 60_000,
        touched=now - 60_000,  # heartbeat 2 s in these settings: its worker is gone
    )

    first = await redis_queue.sweep(lock=1, abort=0)
    assert first == [silent]
    assert await _active(redis_queue) == {just_taken, running}
    # Queued again, after SAQ's backoff: due in the sorted set (and the list once due).
    assert await redis_queue.redis.zscore(redis_queue._incomplete, silent) is not None
    stored = await redis_queue.job(silent.rpartition(":")[2])
    assert stored is not None
    assert stored.status == Status.QUEUED

    # Another sweep within the lock's second does nothing; the next one takes back the job
    # still unmarked since the last sweep (its worker died between BLMOVE and its update).
    assert await redis_queue.sweep(lock=1, abort=0) == []
    await redis_queue.redis.delete(redis_queue._sweep)
    second = await redis_queue.sweep(lock=1, abort=0)
    assert second == [just_taken]
    assert await _active(redis_queue) == {running}


async def test_an_id_without_its_record_is_dropped(
    redis_queue: CampusRedisQueue, job_settings: Settings
) -> None:
    orphan = await _taken(redis_queue, job_settings)
    await redis_queue.redis.delete(orphan)
    assert await redis_queue.sweep(lock=1, abort=0) == [orphan]
    assert await _active(redis_queue) == set()
    assert await redis_queue.redis.zscore(redis_queue._incomplete, orphan) is None
