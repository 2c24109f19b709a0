"""``campus worker``: runs the jobs from Redis with SAQ.

Every job is delivered to the one SAQ function :data:`~campus.jobs.redisqueue.RUN_TASK`,
which hands it to the same :class:`~campus.jobs.runner.JobRunner` as the in-process path.
SAQ moves a job from the queued list to the active list as it takes it (``BLMOVE``), so a
job is never lost between Redis and a worker. While a job runs its worker renews the job's
heartbeat every third of ``CAMPUS_JOBS_IDLE_TIMEOUT_SECONDS``; a job whose heartbeat has
stopped — its worker was killed (SIGKILL) or lost its host — is taken back by the next
sweep of any worker (every ``CAMPUS_JOBS_IDLE_TIMEOUT_SECONDS``) and runs again, its try
counted. SIGTERM or SIGINT stops taking jobs and lets the running ones finish (up to
``CAMPUS_JOBS_SHUTDOWN_GRACE_SECONDS``; a job cut short then is queued again). If Redis
goes away the worker stops its loops and connects again with backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry, start_http_server
from saq import Worker
from saq.job import CronJob
from saq.types import Context

from campus.config import Settings
from campus.db import Database
from campus.jobs import heartbeat
from campus.jobs.metrics import JobMetrics
from campus.jobs.queue import JobQueue, use_queue
from campus.jobs.redisqueue import (
    CONNECTION_ERRORS,
    RUN_TASK,
    CampusRedisQueue,
    heartbeat_seconds,
)
from campus.jobs.registry import load_jobs, scheduled_jobs
from campus.jobs.runner import JobRunner
from campus.log import get_logger
from campus.realtime.broadcast import Broadcaster, attach, create_broadcaster

logger = get_logger("campus.jobs.worker")

#: How long an idle slot waits in ``BLMOVE`` before it looks again (a stopping worker
#: waits at most this long for its idle slots).
DEQUEUE_WAIT_SECONDS = 1.0


@dataclass(slots=True)
class WorkerRuntime:
    database: Database
    queue: JobQueue
    runner: JobRunner
    broadcaster: Broadcaster


class WorkerContext(Context, total=False):
    runtime: WorkerRuntime


class RetryLater(Exception):
    """The runner asked for another try (after the delay it put on the SAQ job)."""


class CampusWorker(Worker[WorkerContext]):
    """SAQ's worker, whose upkeep loops (schedule, sweep, info) stop at once on shutdown:
    only the running jobs get the grace period."""

    queue: CampusRedisQueue

    def __init__(self, queue: CampusRedisQueue, settings: Settings, **kwargs: Any) -> None:
        super().__init__(queue, **kwargs)
        self.settings = settings
        self._upkeep: list[asyncio.Task[None]] = []
        # A job whose function nobody registered (another producer's, an old name) fails
        # for good through the runner instead of being retried forever.
        self.functions = _Functions(self.functions)
        queue.on_lost = lambda: self.event.set()  # start() makes a new event: look it up

    async def upkeep(self) -> list[asyncio.Task[None]]:
        self._upkeep = [*await super().upkeep(), asyncio.create_task(self._touch_running())]
        return self._upkeep

    async def stop(self) -> None:
        for task in self._upkeep:
            task.cancel()
        await super().stop()

    async def _touch_running(self) -> None:
        """Renew the heartbeat of the jobs running here (a short job never needs one)."""
        every = heartbeat_seconds(self.settings) / 3
        while True:
            await asyncio.sleep(every)
            for job, task in list(self.job_task_contexts.items()):
                if task["task"].done() or (job.duration("running") or 0) < every * 1000:
                    continue
                try:
                    await self.queue.touch(job)
                except CONNECTION_ERRORS:
                    return  # the worker is about to stop and connect again


class _Functions(dict[str, Any]):
    def __missing__(self, name: str) -> Any:
        async def unknown(ctx: WorkerContext, **_kwargs: Any) -> None:
            runtime = ctx.get("runtime")
            assert runtime is not None
            await runtime.runner.execute(name, {}, 1)

        return unknown


class _QuietSaq(logging.Filter):
    """SAQ logs a failed job with its full arguments (a mail's rendered message): keep the
    job's identity only, and drop the lines Campus logs better itself (a retry the runner
    asked for, an upkeep loop failing while Redis is away)."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, RetryLater):
            return False
        if isinstance(error, CONNECTION_ERRORS):
            return False
        if record.msg == "Error processing job %s" and record.args:
            job = record.args[0] if isinstance(record.args, tuple) else None
            if job is not None and hasattr(job, "info"):
                record.args = (job.info(False),)
        return True


def _install_log_filter() -> None:
    saq_logger = logging.getLogger("saq")
    if not any(isinstance(f, _QuietSaq) for f in saq_logger.filters):
        saq_logger.addFilter(_QuietSaq())
    # SAQ's INFO lines (every job enqueued, started, finished) would drown the log.
    saq_logger.setLevel(max(logging.WARNING, logging.getLogger().level))


def build_worker(
    settings: Settings,
    queue: CampusRedisQueue,
    *,
    concurrency: int,
    metrics: JobMetrics | None = None,
) -> CampusWorker:
    load_jobs(settings.job_modules)

    async def startup(ctx: WorkerContext) -> None:
        database = Database(settings)
        # Notifications made by jobs go out live: PUBLISH to the app instances' sockets.
        broadcaster = create_broadcaster(settings, None)
        attach(database, broadcaster)
        jobs = JobQueue(settings, database, metrics=metrics, durable=True)
        use_queue(jobs)  # follow-up jobs (a reminder's mail) go through Redis too
        runner = JobRunner(settings, database, jobs.metrics, durable=True)
        ctx["runtime"] = WorkerRuntime(
            database=database, queue=jobs, runner=runner, broadcaster=broadcaster
        )

    async def shutdown(ctx: WorkerContext) -> None:
        runtime = ctx.get("runtime")
        if runtime is None:
            return
        await runtime.queue.close()
        await runtime.broadcaster.stop()
        await runtime.database.dispose()

    async def run(ctx: WorkerContext, **kwargs: Any) -> None:
        runtime = ctx.get("runtime")
        job = ctx.get("job")
        assert runtime is not None
        assert job is not None
        name, payload = kwargs.get("job"), kwargs.get("payload")
        outcome = await runtime.runner.execute(name, payload, job.attempts)
        if outcome.kind == "retry":
            # SAQ queues the job again after this delay (the runner's backoff with jitter).
            job.retry_delay = outcome.delay
            job.retry_backoff = False
            raise RetryLater(outcome.error or "retry")

    cron_jobs: list[CronJob[WorkerContext]] = []
    if settings.jobs_schedule:
        for spec in scheduled_jobs():
            assert spec.schedule_setting
            tab = str(getattr(settings, spec.schedule_setting))
            cron_jobs.append(_cron(tab, spec.name))

    idle = heartbeat_seconds(settings)
    return CampusWorker(
        queue,
        settings,
        functions=[(RUN_TASK, run)],
        concurrency=concurrency,
        cron_jobs=cron_jobs,
        startup=startup,
        shutdown=shutdown,
        timers={"schedule": 1, "sweep": idle, "abort": 1, "worker_info": 10},
        dequeue_timeout=DEQUEUE_WAIT_SECONDS,
        shutdown_grace_period_s=settings.jobs_shutdown_grace_seconds,
    )


def _cron(tab: str, job: str) -> CronJob[WorkerContext]:
    # The tick only enqueues the job, so a scheduled run gets the same tries, backoff and
    # dead letter as any other. SAQ keys each tick by the function's name ("cron:NAME"):
    # one tick is queued at a time across all workers.
    async def tick(ctx: WorkerContext) -> None:
        runtime = ctx.get("runtime")
        assert runtime is not None
        await runtime.queue.submit(job, {})

    tick.__qualname__ = tick.__name__ = f"schedule:{job}"
    return CronJob(tick, cron=tab, timeout=60, retries=3, ttl=-1)


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
    _install_log_filter()
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
    loop = asyncio.get_running_loop()
    while True:
        queue = CampusRedisQueue.for_settings(settings, blocking=True)
        worker = build_worker(settings, queue, concurrency=concurrency, metrics=metrics)
        started = loop.time()
        lost: BaseException | None
        try:
            await queue.connect()
            await queue.version()  # the first command: fails at once if Redis is away
            logger.info(
                "worker_starting",
                worker=worker.id,
                queue=settings.jobs_queue_name,
                concurrency=concurrency,
            )
            await worker.start()
            lost = queue.lost
        except CONNECTION_ERRORS as exc:
            lost = exc
        finally:
            await queue.close()
        if lost is None:
            logger.info("worker_stopped", worker=worker.id)
            return
        if loop.time() - started > 30:
            wait = 1.0
        logger.warning(
            "worker_redis_unavailable",
            worker=worker.id,
            retry_in_seconds=wait,
            error=f"{type(lost).__name__}: {lost}"[:300],
        )
        if await _sleep_unless_signalled(wait):
            logger.info("worker_stopped", worker=worker.id)
            return
        wait = min(wait * 2, 30.0)
