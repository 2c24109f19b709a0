"""``campus worker``: runs the jobs from Redis with streaq.

Every job is delivered to the one streaq task :data:`~campus.jobs.queue.RUN_TASK`, which
hands it to the same :class:`~campus.jobs.runner.JobRunner` as the in-process path. streaq
reads a Redis stream through a consumer group: a job stays pending until the worker that
took it acknowledges it, a running job's claim is renewed while it runs, and a job whose
worker died (SIGKILL) is taken again after ``CAMPUS_JOBS_IDLE_TIMEOUT_SECONDS``. SIGTERM or
SIGINT stops taking jobs and lets the running ones finish (up to
``CAMPUS_JOBS_SHUTDOWN_GRACE_SECONDS``). If Redis goes away the worker waits and connects
again by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from prometheus_client import CollectorRegistry, start_http_server
from streaq import StreaqRetry, Worker

from campus.config import Settings
from campus.db import Database
from campus.jobs import heartbeat
from campus.jobs.metrics import JobMetrics
from campus.jobs.queue import RUN_TASK, JobQueue, deserialize, redis_kwargs, serialize, use_queue
from campus.jobs.registry import load_jobs, scheduled_jobs
from campus.jobs.runner import JobRunner
from campus.log import get_logger
from campus.realtime.broadcast import attach, create_broadcaster

logger = get_logger("campus.jobs.worker")


@dataclass(slots=True)
class WorkerRuntime:
    database: Database
    queue: JobQueue
    runner: JobRunner


def build_worker(
    settings: Settings, *, concurrency: int, metrics: JobMetrics | None = None
) -> Worker[WorkerRuntime]:
    assert settings.redis_url, "campus worker needs CAMPUS_REDIS_URL"
    load_jobs(settings.job_modules)

    @asynccontextmanager
    async def lifespan() -> AsyncIterator[WorkerRuntime]:
        database = Database(settings)
        # Notifications made by jobs go out live: PUBLISH to the app instances' sockets.
        broadcaster = create_broadcaster(settings, None)
        attach(database, broadcaster)
        queue = JobQueue(settings, database, metrics=metrics, durable=True)
        use_queue(queue)  # follow-up jobs (a reminder's mail) go through Redis too
        runner = JobRunner(settings, database, queue.metrics, durable=True)
        try:
            yield WorkerRuntime(database=database, queue=queue, runner=runner)
        finally:
            await queue.close()
            await broadcaster.stop()
            await database.dispose()

    worker: Worker[WorkerRuntime] = Worker(
        redis_url=settings.redis_url,
        redis_kwargs=redis_kwargs(settings),
        concurrency=concurrency,
        queue_name=settings.jobs_queue_name,
        lifespan=lifespan,
        serializer=serialize,
        deserializer=deserialize,
        idle_timeout=settings.jobs_idle_timeout_seconds,
        grace_period=settings.jobs_shutdown_grace_seconds,
        handle_signals=True,
    )

    @worker.task(
        name=RUN_TASK,
        max_tries=None,  # campus.jobs.runner counts tries and keeps the dead letters
        timeout=timedelta(seconds=settings.jobs_timeout_seconds),
        ttl=0,  # no result kept in Redis
        silent=True,
    )
    async def run(job: Any, payload: Any) -> None:
        runtime = worker.context
        outcome = await runtime.runner.execute(job, payload, run.context.tries)
        if outcome.kind == "retry":
            raise StreaqRetry(outcome.error or "retry", delay=timedelta(seconds=outcome.delay))

    if settings.jobs_schedule:
        for spec in scheduled_jobs():
            assert spec.schedule_setting
            tab = str(getattr(settings, spec.schedule_setting))
            _add_cron(worker, tab, spec.name)
    return worker


def _add_cron(worker: Worker[WorkerRuntime], tab: str, job: str) -> None:
    # The cron entry only enqueues the job, so a scheduled run gets the same tries,
    # backoff and dead letter as any other. streaq fires each tick once across workers.
    @worker.cron(
        tab, name=f"cron:{job}", max_tries=3, timeout=timedelta(minutes=1), ttl=0, silent=True
    )
    async def tick() -> None:
        await worker.context.queue.submit(job, {})


def _is_connection_problem(exc: BaseException) -> bool:
    from coredis.exceptions import ConnectionError as RedisConnectionError
    from coredis.exceptions import RedisError

    if isinstance(exc, BaseExceptionGroup):
        return all(_is_connection_problem(e) for e in exc.exceptions)
    return isinstance(exc, RedisConnectionError | RedisError | OSError | TimeoutError)


async def _sleep_unless_signalled(seconds: float) -> bool:
    """Sleep, or return True at once on SIGTERM/SIGINT."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
        return True
    except TimeoutError:
        return False
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)


async def run_worker(
    settings: Settings, *, concurrency: int, metrics_port: int | None = None
) -> None:
    # coredis's optimized mode (its handbook, "Optimization"): no runtime validation of
    # command arguments, which streaq's calls do not need; a few percent of a job's CPU.
    import coredis

    coredis.Config.optimized = True
    registry = CollectorRegistry(auto_describe=True)
    if metrics_port is not None:
        start_http_server(metrics_port, addr="127.0.0.1", registry=registry)
    metrics = JobMetrics(registry)
    beating = asyncio.get_running_loop().create_task(heartbeat.beat(settings))
    try:
        await _run_until_stopped(settings, concurrency=concurrency, metrics=metrics)
    finally:
        beating.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await beating


async def _run_until_stopped(settings: Settings, *, concurrency: int, metrics: JobMetrics) -> None:
    wait = 1.0
    while True:
        worker = build_worker(settings, concurrency=concurrency, metrics=metrics)
        logger.info(
            "worker_starting",
            worker=worker.id,
            queue=settings.jobs_queue_name,
            concurrency=concurrency,
        )
        started = asyncio.get_running_loop().time()
        try:
            await worker.run_async()
            logger.info("worker_stopped", worker=worker.id)
            return
        except BaseException as exc:
            if not _is_connection_problem(exc):
                raise
            if asyncio.get_running_loop().time() - started > 30:
                wait = 1.0
            logger.warning(
                "worker_redis_unavailable",
                worker=worker.id,
                retry_in_seconds=wait,
                error=f"{type(exc).__name__}: {exc}"[:300],
            )
        if await _sleep_unless_signalled(wait):
            logger.info("worker_stopped", worker=worker.id)
            return
        wait = min(wait * 2, 30.0)
