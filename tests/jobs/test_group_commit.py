"""Group commit (campus.jobs.batch) and notifications.notify_once: the jobs running at once
write their notifications in one transaction, each exactly once under its effect key, each
job resolved only after the commit, a bad row failing only its own job, and the live frames
sent after the commit; then a real ``campus worker`` doing it through Redis."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis
from sqlalchemy import event, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from campus.config import Settings
from campus.db import Database
from campus.jobs import JobQueue, load_jobs
from campus.jobs.batch import GroupCommits
from campus.jobs.context import JobContext
from campus.models.accounts import User, UserRole
from campus.models.jobs import JobEffect
from campus.models.notifications import Notification
from campus.notifications import service as notifications
from campus.realtime.broadcast import MemoryBroadcaster, attach, user_channel
from tests.jobs.conftest import WorkerProcess, wait_until


@pytest.fixture
async def database(settings: Settings, committed: AsyncEngine) -> AsyncIterator[Database]:
    database = Database(settings)
    yield database
    await database.dispose()


async def _user(database: Database, email: str) -> int:
    async with database.session() as session:
        user = User(email=email, full_name="Nia", role=UserRole.STUDENT)
        session.add(user)
        await session.flush()
        return user.id


def _context(database: Database, batches: GroupCommits, attempt: int = 1) -> JobContext:
    return JobContext(
        settings=database.settings,
        database=database,
        job="sample.notify_once",
        attempt=attempt,
        redelivery_possible=True,
        batches=batches,
    )


async def _notify(ctx: JobContext, user_id: int, n: int) -> Notification | None:
    return await notifications.notify_once(
        ctx,
        effect=f"t:{user_id}:{n}",
        user_id=user_id,
        kind="sample.notice",
        data={"n": n},
        title=f"Notice {n}",
    )


async def _stored(engine: AsyncEngine, user_id: int) -> list[tuple[str, int]]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(Notification.title, Notification.id)
            .where(Notification.user_id == user_id)
            .order_by(Notification.id)
        )
        return [(r[0], r[1]) for r in rows]


async def test_jobs_running_together_write_in_one_transaction_each_once(
    database: Database, committed: AsyncEngine
) -> None:
    user_id = await _user(database, "group@campus.example")
    batches = GroupCommits(database)
    ctx = _context(database, batches)
    commits: list[int] = []
    event.listen(database.engine.sync_engine, "commit", lambda conn: commits.append(1))

    made = await asyncio.gather(*(_notify(ctx, user_id, n) for n in range(20)))

    assert len(commits) == 1  # twenty jobs, one transaction
    assert all(m is not None for m in made)
    # Each job got its own notification back, committed, with its own id.
    assert [m.title for m in made if m] == [f"Notice {n}" for n in range(20)]
    stored = await _stored(committed, user_id)
    assert sorted(stored) == sorted((m.title, m.id) for m in made if m)

    # Run again (a redelivery), twice at once and once more: no second notification.
    again = await asyncio.gather(_notify(ctx, user_id, 3), _notify(ctx, user_id, 3))
    assert again == [None, None]
    assert await _notify(_context(database, GroupCommits(database), 2), user_id, 3) is None
    assert len(await _stored(committed, user_id)) == 20


async def test_one_job_twice_in_one_batch_is_stored_once(
    database: Database, committed: AsyncEngine
) -> None:
    user_id = await _user(database, "twice@campus.example")
    ctx = _context(database, GroupCommits(database))
    first, second = await asyncio.gather(_notify(ctx, user_id, 1), _notify(ctx, user_id, 1))
    assert (first is None) != (second is None)
    assert len(await _stored(committed, user_id)) == 1


async def test_a_bad_row_fails_only_its_own_job(database: Database, committed: AsyncEngine) -> None:
    user_id = await _user(database, "good@campus.example")
    ctx = _context(database, GroupCommits(database))
    results = await asyncio.gather(
        _notify(ctx, user_id, 1),
        _notify(ctx, 999_999, 2),  # no such user: the foreign key refuses the row
        _notify(ctx, user_id, 3),
        return_exceptions=True,
    )
    assert isinstance(results[1], IntegrityError)
    assert all(isinstance(r, Notification) for r in (results[0], results[2]))
    assert [t for t, _ in await _stored(committed, user_id)] == ["Notice 1", "Notice 3"]
    async with committed.connect() as conn:
        keys = (await conn.execute(select(JobEffect.key).order_by(JobEffect.key))).scalars()
        # The failed job's key went with its transaction: its retry can still notify.
        assert list(keys) == [f"t:{user_id}:1", f"t:{user_id}:3"]


async def test_frames_go_out_after_the_commit_once_per_notification(
    database: Database, committed: AsyncEngine
) -> None:
    user_id = await _user(database, "live@campus.example")
    broadcaster = MemoryBroadcaster()
    attach(database, broadcaster)
    frames: list[str] = []
    await broadcaster.subscribe(user_channel(user_id), frames.append)
    ctx = _context(database, GroupCommits(database))

    made = await asyncio.gather(*(_notify(ctx, user_id, n) for n in range(3)))
    await broadcaster.wait_for_in_flight(within=5)
    assert sorted(json.loads(f)["notification"]["id"] for f in frames) == sorted(
        m.id for m in made if m
    )
    await _notify(ctx, user_id, 0)  # already there: no frame
    await broadcaster.wait_for_in_flight(within=5)
    assert len(frames) == 3


async def test_the_database_down_fails_every_job_for_a_retry(
    settings: Settings, committed: AsyncEngine
) -> None:
    if settings.database_url.startswith("sqlite"):
        broken = settings.model_copy(
            update={"database_url": "sqlite+aiosqlite:////nonexistent-dir/campus.db"}
        )
    else:
        broken = settings.model_copy(
            update={"database_url": "postgresql+asyncpg://postgres@127.0.0.1:1/none"}
        )
    database = Database(broken)
    try:
        ctx = _context(database, GroupCommits(database))
        results = await asyncio.gather(
            *(_notify(ctx, 1, n) for n in range(3)), return_exceptions=True
        )
        assert all(isinstance(r, Exception) for r in results)
    finally:
        await database.dispose()


async def test_a_worker_notifies_each_job_once_and_live(
    job_settings: Settings, committed: AsyncEngine, workers: list[WorkerProcess]
) -> None:
    load_jobs(job_settings.job_modules)
    database = Database(job_settings)
    queue = JobQueue(job_settings, database)
    subscriber = aioredis.Redis.from_url(job_settings.redis_url or "")
    pubsub = subscriber.pubsub(ignore_subscribe_messages=True)
    try:
        user_id = await _user(database, "worker@campus.example")
        channel = f"{job_settings.realtime_channel_prefix}:rt:{user_channel(user_id)}"
        await pubsub.subscribe(channel)
        workers.append(WorkerProcess(job_settings, "--concurrency", "8").wait_ready())
        client = await queue._connect()
        # Job 0 is enqueued twice (a redelivery): still one notification.
        await client.push_many(
            job_settings,
            [("sample.notify_once", {"user_id": user_id, "n": n}) for n in [*range(30), 0]],
        )

        async def count() -> int:
            async with committed.connect() as conn:
                stmt = select(func.count()).where(Notification.user_id == user_id)
                return int((await conn.execute(stmt)).scalar_one())

        await wait_until(lambda: _equals(count, 30), within=60)
        await wait_until(lambda: _depth_zero(queue), within=30)  # the duplicate ran too
        assert await count() == 30
        frames: list[dict[str, object]] = []
        deadline = asyncio.get_running_loop().time() + 30
        while len(frames) < 30 and asyncio.get_running_loop().time() < deadline:
            message = await pubsub.get_message(timeout=1)
            if message is not None:
                frames.append(json.loads(message["data"].decode().partition(" ")[2]))
        assert len(frames) == 30
        assert {f["notification"]["data"]["n"] for f in frames} == set(range(30))  # type: ignore[index]
    finally:
        await pubsub.aclose()
        await subscriber.aclose()
        await queue.close()
        await database.dispose()


async def _equals(count: object, value: int) -> bool:
    return await count() == value  # type: ignore[operator]


async def _depth_zero(queue: JobQueue) -> bool:
    return await queue.queue_depth() == 0
