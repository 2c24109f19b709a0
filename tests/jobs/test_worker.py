"""The Redis queue with a real ``campus worker`` subprocess: after commit only, retries,
dead letters and the CLI, SIGKILL mid-job, bad input, SIGTERM."""

from __future__ import annotations

import asyncio
import signal
import socket
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from campus.config import Settings
from campus.db import Database
from campus.jobs import JobQueue, enqueue, use_queue
from campus.models.accounts import User
from campus.models.jobs import JobFailure
from tests.jobs.conftest import (
    WorkerProcess,
    effect_keys,
    failed_jobs,
    run_cli,
    wait_until,
)


@pytest.fixture
async def queue(job_settings: Settings, committed: AsyncEngine) -> AsyncIterator[JobQueue]:
    from campus.jobs import load_jobs

    load_jobs(job_settings.job_modules)
    database = Database(job_settings)
    jobs = JobQueue(job_settings, database)
    use_queue(jobs)
    yield jobs
    await jobs.close()
    use_queue(None)
    await database.dispose()


async def _enqueue(queue: JobQueue, job: str, **ids: object) -> None:
    async with queue.database.session() as session:
        enqueue(session, job, **ids)
    await queue.drain()


async def test_enqueued_after_commit_and_run_by_the_worker(
    queue: JobQueue, job_settings: Settings, committed: AsyncEngine, workers: list[WorkerProcess]
) -> None:
    # Rolled back: nothing reaches Redis.
    async def failing_request() -> None:
        async with queue.database.session() as session:
            enqueue(session, "sample.effect", key="rolled-back")
            raise RuntimeError("the request failed")

    with pytest.raises(RuntimeError):
        await failing_request()
    await queue.drain()
    assert await queue.queue_depth() == 0

    # Committed: queued in Redis (no worker yet), then run once the worker starts.
    async with queue.database.session() as session:
        enqueue(session, "sample.effect", key="committed")
        assert await queue.queue_depth() == 0  # not before the commit
    await queue.drain()
    assert await queue.queue_depth() == 1
    workers.append(WorkerProcess(job_settings).wait_ready())
    await wait_until(lambda: effect_keys(committed, "committed"))
    assert await effect_keys(committed) == ["committed", "committed:try:1"]
    assert await effect_keys(committed, "rolled-back") == []
    assert await queue.queue_depth() == 0


async def test_retry_then_success(
    queue: JobQueue, job_settings: Settings, committed: AsyncEngine, workers: list[WorkerProcess]
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    workers.append(WorkerProcess(job_settings, "--metrics-port", str(port)).wait_ready())
    await _enqueue(queue, "sample.effect", key="flaky", fail_times=2)
    await wait_until(lambda: effect_keys(committed, "flaky"), within=60)
    await wait_until(
        lambda: _has(committed, "flaky", ["flaky", "flaky:try:1", "flaky:try:2", "flaky:try:3"])
    )
    assert await failed_jobs(committed) == []
    assert "job_retry" in workers[0].output
    assert "Traceback" not in workers[0].output  # a retry the runner asked for is no error
    async with httpx.AsyncClient(timeout=5) as http:
        metrics = (await http.get(f"http://127.0.0.1:{port}/metrics")).text
    assert 'campus_jobs_started_total{job="sample.effect"} 3.0' in metrics
    assert 'campus_jobs_retried_total{job="sample.effect"} 2.0' in metrics
    assert 'campus_jobs_succeeded_total{job="sample.effect"} 1.0' in metrics
    assert 'campus_job_duration_seconds_count{job="sample.effect"} 3.0' in metrics


async def _has(engine: AsyncEngine, prefix: str, expected: list[str]) -> bool:
    return await effect_keys(engine, prefix) == expected


async def test_permanent_failure_is_listed_and_retried_through_the_cli(
    queue: JobQueue, job_settings: Settings, committed: AsyncEngine, workers: list[WorkerProcess]
) -> None:
    workers.append(WorkerProcess(job_settings).wait_ready())
    # Fails every try (max_tries=4): kept as a dead letter after the fourth.
    await _enqueue(queue, "sample.effect", key="doomed", fail_times=99)
    [failure] = await wait_until(lambda: failed_jobs(committed), within=60)
    assert failure.job == "sample.effect"
    assert failure.attempts == 4
    assert "failed 4 of 4 tries: RuntimeError: planned failure 4 of 99" in failure.error
    assert await effect_keys(committed, "doomed:") == [f"doomed:try:{n}" for n in (1, 2, 3, 4)]

    # A missing row fails at once, without retries.
    await _enqueue(queue, "sample.needs_user", user_id=424242)
    failures = await wait_until(lambda: _at_least(failed_jobs(committed), 2), within=30)
    missing = failures[1]
    assert (missing.job, missing.attempts, missing.error) == (
        "sample.needs_user",
        1,
        "user 424242 does not exist",
    )
    listed = run_cli(job_settings, "jobs", "failed")
    assert listed.returncode == 0, listed.stderr
    assert f"{failure.id:>6}" in listed.stdout
    assert "sample.effect" in listed.stdout
    assert "user 424242 does not exist" in listed.stdout

    # The row appears; a retry through the CLI goes back through Redis and succeeds.
    async with queue.database.session() as session:
        session.add(User(id=424242, email="late@example.com", full_name="Late", password_hash="x"))
    retried = run_cli(job_settings, "jobs", "retry", str(missing.id))
    assert retried.returncode == 0, retried.stderr
    assert f"Queued failed job {missing.id} again." in retried.stdout
    await wait_until(lambda: effect_keys(committed, "user-seen:424242"))
    again = run_cli(job_settings, "jobs", "retry", str(missing.id))
    assert again.returncode == 1
    assert "no failed job" in again.stderr
    remaining = run_cli(job_settings, "jobs", "failed")
    assert "sample.needs_user" not in remaining.stdout
    assert "sample.needs_user" in run_cli(job_settings, "jobs", "failed", "--all").stdout
    assert run_cli(job_settings, "jobs", "retry", "999999").returncode == 1
    assert run_cli(job_settings, "jobs", "retry", "nope").returncode == 2


async def _at_least(rows_coro: object, count: int) -> list[object] | None:
    rows = await rows_coro  # type: ignore[misc]
    return rows if len(rows) >= count else None


async def test_sigkill_mid_job_then_exactly_one_effect(
    queue: JobQueue, job_settings: Settings, committed: AsyncEngine, workers: list[WorkerProcess]
) -> None:
    first = WorkerProcess(job_settings).wait_ready()
    workers.append(first)
    await _enqueue(queue, "sample.effect", key="killed", sleep=3.0)
    await wait_until(lambda: effect_keys(committed, "killed:try:1"))
    first.stop(signal.SIGKILL)
    assert await effect_keys(committed, "killed") == ["killed:try:1"]  # no effect yet

    second = WorkerProcess(job_settings).wait_ready()
    workers.append(second)
    await wait_until(
        lambda: _has(committed, "killed", ["killed", "killed:try:1", "killed:try:2"]), within=60
    )
    # Delivered again on purpose: the effect key is taken, nothing happens twice.
    await _enqueue(queue, "sample.effect", key="killed")
    await wait_until(lambda: effect_keys(committed, "killed:try:1"))
    assert (await effect_keys(committed, "killed")).count("killed") == 1


async def test_sigterm_finishes_the_running_jobs(
    queue: JobQueue, job_settings: Settings, committed: AsyncEngine, workers: list[WorkerProcess]
) -> None:
    worker = WorkerProcess(job_settings).wait_ready()
    workers.append(worker)
    names = [f"graceful-{n}" for n in range(3)]  # three at once (concurrency 4)
    for name in names:
        await _enqueue(queue, "sample.effect", key=name, sleep=1.5)
    for name in names:
        await wait_until(lambda name=name: effect_keys(committed, f"{name}:try:1"))
    assert worker.stop(signal.SIGTERM) == 0
    for name in names:  # each finished once, none was cut short and run again
        assert await effect_keys(committed, name) == [name, f"{name}:try:1"]


async def test_bad_input_fails_permanently_and_the_worker_keeps_running(
    queue: JobQueue, job_settings: Settings, committed: AsyncEngine, workers: list[WorkerProcess]
) -> None:
    worker = WorkerProcess(job_settings).wait_ready()
    workers.append(worker)
    # What another (older, newer, broken) producer could put on the queue.
    client = await queue._connect()
    await client.push(job_settings, "no.such.job", {"id": 1})
    await client.push(job_settings, "sample.effect", {"key": 5, "bogus": True})
    await client.push(job_settings, "sample.effect", "not an object")
    await client.enqueue("some.other.function", key="not ours")  # another producer's job
    failures = await wait_until(lambda: _at_least(failed_jobs(committed), 4))
    errors = sorted(f.error for f in failures)
    assert errors[0] == (
        "malformed payload: key: Input should be a valid string; "
        "bogus: Extra inputs are not permitted"
    )
    assert errors[1] == "malformed payload: not an object"
    assert errors[2] == "unknown job 'no.such.job'"
    assert errors[3] == "unknown job 'some.other.function'"
    worker.wait_for_line("job_failed_permanently", count=4)
    # Still serving.
    await _enqueue(queue, "sample.effect", key="after-bad-input")
    await wait_until(lambda: effect_keys(committed, "after-bad-input"))
    assert worker.proc.poll() is None


async def test_enqueue_refuses_unknown_jobs_and_bad_ids(queue: JobQueue) -> None:
    from pydantic import ValidationError

    from campus.jobs import UnknownJob

    async with queue.database.session() as session:
        with pytest.raises(UnknownJob):
            enqueue(session, "no.such.job", id=1)
        with pytest.raises(ValidationError):
            enqueue(session, "sample.needs_user", user_id="not a number")


async def test_the_worker_runs_the_scheduled_jobs(
    queue: JobQueue, job_settings: Settings, committed: AsyncEngine, workers: list[WorkerProcess]
) -> None:
    """SAQ's cron in two workers: the clean-up fires every second (a six-field crontab,
    seconds last) and removes an expired session; the other schedules stay quiet."""
    from datetime import timedelta

    from sqlalchemy import func, select

    from campus.kit.clock import utcnow
    from campus.models.accounts import AuthSession

    settings = job_settings.model_copy(
        update={
            "jobs_schedule": True,
            "jobs_cleanup_cron": "* * * * * *",
            "jobs_reminders_cron": "0 0 1 1 *",
            "jobs_digest_cron": "0 0 1 1 *",
        }
    )
    async with queue.database.session() as session:
        user = User(email="cron@example.com", full_name="Cron", password_hash="x")
        session.add(user)
        await session.flush()
        session.add_all(
            [
                AuthSession(id="cron-live", user_id=user.id, expires_at=utcnow() + timedelta(1)),
                AuthSession(
                    id="cron-expired", user_id=user.id, expires_at=utcnow() - timedelta(hours=1)
                ),
            ]
        )

    async def sessions() -> list[str]:
        async with committed.connect() as conn:
            return list(await conn.scalars(select(AuthSession.id).order_by(AuthSession.id)))

    workers.append(WorkerProcess(settings).wait_ready())
    workers.append(WorkerProcess(settings).wait_ready())
    await wait_until(lambda: _equals_list(sessions, ["cron-live"]), within=60)
    # One tick of each schedule waits at a time, however many workers: no pile-up.
    client = await queue._connect()
    seen: set[str] = set()
    for _ in range(10):
        waiting = [k.decode() for k in await client.redis.zrange(client._incomplete, 0, -1)]
        ticks = [k.rpartition(":cron:")[2] for k in waiting if ":cron:" in k]
        assert sorted(set(ticks)) == sorted(ticks), ticks
        assert len(waiting) - len(ticks) <= 2, waiting  # the clean-up jobs those ticks queued
        seen.update(ticks)
        await asyncio.sleep(0.3)
    from campus.jobs.registry import scheduled_jobs

    assert seen == {f"schedule:{spec.name}" for spec in scheduled_jobs()}
    async with committed.connect() as conn:
        failures = await conn.scalar(select(func.count()).select_from(JobFailure))
    assert failures == 0
    for worker in workers:
        assert worker.stop() == 0


async def _equals_list(read: object, expected: list[str]) -> bool:
    return await read() == expected  # type: ignore[operator]
