"""The Redis side of the job queue: SAQ's Redis queue, with what Campus adds to it.

Every job goes to Redis as one SAQ job of the function :data:`RUN_TASK` with the keyword
arguments ``job`` (its registered name) and ``payload`` (its ids); the worker hands both to
:class:`campus.jobs.runner.JobRunner`, which counts the tries, backs off and keeps the dead
letters. What Campus adds to :class:`saq.queue.redis.RedisQueue`:

- :func:`make_job`: the SAQ job with Campus's settings (no result kept, tries counted by the
  runner, a heartbeat so a dead worker's job is taken again, SAQ's own backoff for the
  retries SAQ starts itself: a job swept from a dead worker, a timeout);
- :meth:`CampusRedisQueue.touch`: the heartbeat of a running job (``SET ... XX``: never
  brings back a job that finished meanwhile);
- :meth:`CampusRedisQueue.dequeue` notices a lost connection and tells the worker, which
  stops and connects again with backoff (:mod:`campus.jobs.worker`);
- :meth:`CampusRedisQueue.notify` publishes nothing: SAQ announces every change of a job's
  status on a Redis channel for callers that wait on a job's result, and Campus never
  does (jobs return nothing); the two ``PUBLISH`` round trips were 15 % of a worker's CPU
  per job (docs/performance.md);
- :meth:`CampusRedisQueue.sweep` takes back the jobs of dead workers, but leaves a job a
  live worker has just taken to it (SAQ's own sweep does not), and logs what it took;
- :meth:`CampusRedisQueue.depth`: the jobs waiting, due and scheduled.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from typing import Any

import orjson
from redis import asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from saq.job import Job, Status
from saq.queue.redis import RedisQueue

from campus.config import Settings
from campus.log import get_logger

logger = get_logger("campus.jobs")

#: The one SAQ function every job goes through: ``campus.run(job=NAME, payload=IDS)``.
RUN_TASK = "campus.run"

#: SAQ's own try counter never ends a job: the runner counts (``CAMPUS_JOBS_MAX_TRIES``)
#: and fails a job for good, also one whose worker kept dying (its tries go on counting).
UNLIMITED_TRIES = 1_000_000

#: How long a sweep waits for a live worker to cancel a job it is taking back. A job is
#: only taken back when its heartbeat stopped, so its worker is gone: do not wait long.
SWEEP_ABORT_WAIT_SECONDS = 1.0

CONNECTION_ERRORS = (RedisConnectionError, RedisTimeoutError, OSError, TimeoutError)


def dump(data: Any) -> bytes:
    return orjson.dumps(data, default=str)


def load(data: bytes | str) -> Any:
    return orjson.loads(data)


def key_patterns(queue_name: str) -> tuple[str, str]:
    """The Redis keys of one queue (SAQ's names): its lists and sets, its job records."""
    return f"saq:{queue_name}:*", f"saq:job:{queue_name}:*"


def heartbeat_seconds(settings: Settings) -> int:
    """A running job whose worker has not touched it for this long is taken back."""
    return max(1, math.ceil(settings.jobs_idle_timeout_seconds))


def make_job(settings: Settings, job: Any, payload: Any, *, delay: float = 0.0) -> Job:
    return Job(
        function=RUN_TASK,
        kwargs={"job": job, "payload": payload},
        timeout=max(1, math.ceil(settings.jobs_timeout_seconds)),
        heartbeat=heartbeat_seconds(settings),
        retries=UNLIMITED_TRIES,
        ttl=-1,  # nothing kept once it has run: the dead letters are in the database
        retry_delay=settings.jobs_retry_base_seconds,
        retry_backoff=settings.jobs_retry_max_seconds,
        scheduled=math.ceil(time.time() + delay) if delay > 0 else 0,
    )


class CampusRedisQueue(RedisQueue):
    """SAQ's Redis queue for one queue name (see the module docstring)."""

    def __init__(self, redis: aioredis.Redis, name: str) -> None:
        super().__init__(redis, name=name, dump=dump, load=load)
        #: the connection error that made the worker stop (it connects again), if any
        self.lost: BaseException | None = None
        self._suspects: set[bytes] = set()
        self.on_lost: Callable[[], None] | None = None

    @classmethod
    def for_settings(cls, settings: Settings, *, blocking: bool = False) -> CampusRedisQueue:
        assert settings.redis_url, "the Redis queue needs CAMPUS_REDIS_URL"
        client = aioredis.from_url(
            settings.redis_url,
            socket_connect_timeout=settings.jobs_enqueue_timeout_seconds,
            # The worker's connections block in BLMOVE: no read timeout there.
            socket_timeout=None if blocking else settings.jobs_enqueue_timeout_seconds,
        )
        return cls(client, settings.jobs_queue_name)

    async def push(self, settings: Settings, job: Any, payload: Any, *, delay: float = 0) -> None:
        """Put one job on the queue as it is (no validation: see ``JobQueue.submit``)."""
        await self.enqueue(make_job(settings, job, payload, delay=delay))

    async def push_many(self, settings: Settings, jobs: list[tuple[Any, Any]]) -> None:
        """Put many jobs on the queue (SAQ keeps up to 20 enqueues in flight)."""
        await asyncio.gather(*(self.push(settings, job, payload) for job, payload in jobs))

    async def depth(self) -> int:
        """Jobs waiting: due, scheduled (retries included), not the ones running."""
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.zcard(self._incomplete)
            pipe.llen(self._active)
            incomplete, active = await pipe.execute()
        return max(0, int(incomplete) - int(active))

    async def notify(self, job: Job) -> None:
        """No status announcements (see the module docstring). A sweep taking a job back
        therefore waits its whole ``SWEEP_ABORT_WAIT_SECONDS`` before it queues it again."""
        del job

    async def touch(self, job: Job) -> None:
        """Renew a running job's heartbeat (only while its record exists)."""
        job.touched = int(time.time() * 1000)
        await self.redis.set(job.id, self.serialize(job), xx=True)

    async def dequeue(
        self,
        timeout: float = 0.0,  # noqa: ASYNC109 - SAQ's signature
        poll_interval: float = 0.0,
    ) -> Job | None:
        try:
            return await super().dequeue(timeout=timeout, poll_interval=poll_interval)
        except CONNECTION_ERRORS as exc:
            if self.lost is None:
                self.lost = exc
                if self.on_lost is not None:
                    self.on_lost()
            return None

    async def sweep(self, lock: int = 60, abort: float = SWEEP_ABORT_WAIT_SECONDS) -> list[str]:
        """Take back the jobs of dead workers: the active list's jobs whose heartbeat or
        timeout ran out, or whose record is gone.

        Unlike SAQ's own sweep, a job found in the active list still marked *queued* is
        only taken back when this process's previous sweep found it so too: a live worker
        moves a job to the active list (``BLMOVE``) one round trip before it marks it
        active, and SAQ's sweep takes such a job away from the worker about to run it, so
        it runs twice at once (tobymao/saq#124, #277). One sweep holds the lock at a time
        across the workers (``SET NX EX``)."""
        if not await self.redis.set(self._sweep, 1, ex=lock, nx=True):
            return []
        ids: list[bytes] = await self.redis.lrange(self._active, 0, -1)  # type: ignore[misc]
        records = await self.redis.mget(ids) if ids else []
        taken: list[Job] = []
        gone: list[str] = []
        suspects: set[bytes] = set()
        for job_id, record in zip(ids, records, strict=True):
            job = self.deserialize(record) if record else None
            if job is None:
                gone.append(job_id.decode())
            elif job.status == Status.QUEUED:
                if job_id in self._suspects:
                    taken.append(job)
                else:
                    suspects.add(job_id)
            elif job.status != Status.ACTIVE or job.stuck:
                taken.append(job)
        self._suspects = suspects
        if gone:
            async with self.redis.pipeline(transaction=True) as pipe:
                for missing in gone:
                    pipe.lrem(self._active, 0, missing)
                    pipe.zrem(self._incomplete, missing)
                await pipe.execute()
        if taken:
            # A worker that is alive after all (a stalled loop) sees the abort and cancels.
            for job in taken:
                await self.abort(job, error=self.swept_error_message)
            try:
                await asyncio.sleep(min(abort, SWEEP_ABORT_WAIT_SECONDS))
            finally:  # also when the worker stops meanwhile: the aborted jobs are in no list
                for job in taken:
                    if job.retryable:
                        await self.retry(job, error=self.swept_error_message)
                    else:
                        await self.finish(job, Status.ABORTED, error=self.swept_error_message)
            logger.warning(
                "jobs_taken_back",
                count=len(taken),
                hint="their worker stopped beating (killed, or lost): each runs again",
            )
        return [job.id for job in taken] + gone

    async def close(self) -> None:
        try:
            await self.disconnect()
        except Exception as exc:  # closing a connection to a Redis that is gone
            logger.debug("job_queue_close_failed", error=type(exc).__name__)
