"""The queue facade: ``enqueue(session, job, **ids)`` after commit, to Redis or in process.

With ``CAMPUS_REDIS_URL`` a job goes to the Redis queue (SAQ's, see
:mod:`campus.jobs.redisqueue`) and a ``campus worker`` runs it. Without it — or when Redis
cannot be reached at that moment — the same job runs inside this process (its tries and
backoff included), so the embedded default needs no Redis and no request ever fails
because Redis is down.

Nothing is enqueued before the unit of work commits (``campus.kit.aftercommit``): a
request that rolls back enqueues nothing.
"""

from __future__ import annotations

import asyncio
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession

from campus.config import Settings
from campus.db import Database
from campus.jobs.errors import UnknownJob
from campus.jobs.metrics import JobMetrics
from campus.jobs.registry import get_job
from campus.jobs.runner import JobRunner
from campus.kit.aftercommit import after_commit
from campus.log import get_logger

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

    from campus.jobs.redisqueue import CampusRedisQueue

logger = get_logger("campus.jobs")

_current: ContextVar[JobQueue | None] = ContextVar("campus_job_queue", default=None)
_default: list[JobQueue] = []


def current_queue() -> JobQueue | None:
    """The queue of the app (or worker) this code runs in."""
    queue = _current.get()
    if queue is None and _default:
        return _default[-1]
    return queue


def use_queue(queue: JobQueue | None) -> None:
    """Make ``queue`` the current one in this context (middleware, worker, CLI)."""
    _current.set(queue)


class JobQueue:
    """One per app or worker process: where its jobs go, and the runner for in-process ones."""

    def __init__(
        self,
        settings: Settings,
        database: Database,
        *,
        registry: CollectorRegistry | None = None,
        metrics: JobMetrics | None = None,
        durable: bool = False,
    ) -> None:
        self.settings = settings
        self.database = database
        self.metrics = metrics or JobMetrics(registry)
        # In-process runs are never redelivered; the worker's runner says otherwise.
        self.local_runner = JobRunner(settings, database, self.metrics, durable=False)
        self.durable = durable
        self._client: CampusRedisQueue | None = None
        self._connect_lock = asyncio.Lock()
        self._in_flight: set[asyncio.Task[None]] = set()
        self._local_waiting = 0
        _default.append(self)

    @property
    def uses_redis(self) -> bool:
        return bool(self.settings.redis_url)

    # -- enqueue -------------------------------------------------------------------------

    def enqueue(self, session: AsyncSession, job: str, **ids: Any) -> None:
        payload = validate(job, ids)
        after_commit(session, lambda: self.hand_off(job, payload))

    def hand_off(self, job: str, payload: dict[str, Any]) -> None:
        """Start sending ``job`` (from an after-commit callback: never blocks)."""
        self._track(asyncio.get_running_loop().create_task(self.submit(job, payload)))

    async def submit(self, job: str, payload: dict[str, Any], *, delay: float = 0.0) -> str:
        """Put the job on the Redis queue, or run it here; return where it went."""
        self.metrics.enqueued.labels(job).inc()
        if self.uses_redis:
            try:
                await asyncio.wait_for(
                    self._redis_enqueue(job, payload, delay),
                    timeout=self.settings.jobs_enqueue_timeout_seconds,
                )
                return "redis"
            except Exception as exc:
                logger.warning(
                    "job_enqueue_fallback",
                    job=job,
                    reason=f"{type(exc).__name__}: {exc}"[:300],
                    hint="Redis unreachable: the job runs in this process",
                )
                await self._reset_client()
        self.run_here(job, payload, delay=delay)
        return "local"

    async def _redis_enqueue(self, job: str, payload: dict[str, Any], delay: float) -> None:
        client = await self._connect()
        await client.push(self.settings, job, payload, delay=delay)

    async def _connect(self) -> CampusRedisQueue:
        if self._client is not None:
            return self._client
        async with self._connect_lock:
            if self._client is None:
                from campus.jobs.redisqueue import CampusRedisQueue

                client = CampusRedisQueue.for_settings(self.settings)
                await client.connect()
                self._client = client
        return self._client

    async def _reset_client(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.close()

    # -- in process ----------------------------------------------------------------------

    def run_here(self, job: str, payload: dict[str, Any], *, delay: float = 0.0) -> None:
        self._track(asyncio.get_running_loop().create_task(self._run_local(job, payload, delay)))

    async def _run_local(self, job: str, payload: dict[str, Any], delay: float) -> None:
        self._local_waiting += 1
        try:
            if delay > 0:
                await asyncio.sleep(delay)
            attempt = 1
            while True:
                outcome = await self.local_runner.execute(job, payload, attempt)
                if outcome.kind != "retry":
                    return
                await asyncio.sleep(outcome.delay)
                attempt += 1
        except Exception:
            logger.exception("job_local_run_crashed", job=job)
        finally:
            self._local_waiting -= 1

    def _track(self, task: asyncio.Task[None] | asyncio.Task[Any]) -> None:
        self._in_flight.add(task)
        task.add_done_callback(self._in_flight.discard)

    async def drain(self, within: float | None = None) -> None:
        """Wait until every job handed off so far was enqueued or, in process, has finished."""
        while self._in_flight:
            pending = set(self._in_flight)
            _done, not_done = await asyncio.wait(pending, timeout=within)
            if not_done:
                logger.warning("jobs_shutdown_pending", count=len(not_done))
                return

    async def queue_depth(self) -> int:
        """Jobs waiting in Redis (due and scheduled), or running and waiting here."""
        depth = self._local_waiting
        if self.uses_redis:
            try:
                client = await asyncio.wait_for(
                    self._connect(), timeout=self.settings.jobs_enqueue_timeout_seconds
                )
                depth += await asyncio.wait_for(
                    client.depth(), timeout=self.settings.jobs_enqueue_timeout_seconds
                )
            except Exception:
                await self._reset_client()
        self.metrics.queue_depth.set(depth)
        return depth

    async def close(self, within: float | None = 10) -> None:
        await self.drain(within=within)
        await self._reset_client()
        if self in _default:
            _default.remove(self)


def validate(job: str, ids: dict[str, Any]) -> dict[str, Any]:
    spec = get_job(job)
    if spec is None:
        from campus.jobs.registry import load_jobs

        load_jobs()
        spec = get_job(job)
    if spec is None:
        raise UnknownJob(f"no job is registered as {job!r}")
    return spec.params.model_validate(ids).model_dump(mode="json")


def enqueue(session: AsyncSession, job: str, **ids: Any) -> None:
    """Run ``job`` with ``ids`` once ``session``'s unit of work commits (never on rollback)."""
    queue = current_queue()
    if queue is None:
        raise RuntimeError("no job queue: create the app (or the worker) first")
    queue.enqueue(session, job, **ids)


async def drain(within: float | None = None) -> None:
    """Wait for the jobs handed off by every queue of this process (tests, shutdown)."""
    for queue in list(_default):
        await queue.drain(within=within)
