"""Active learners: how many distinct students learned in the last hour and the last day.

A learner is *active* when a commit of theirs made learning progress: an enrollment or a
lesson completion (services call :func:`learner_active` after the commit, like the
counters of :mod:`campus.operations.counters`). Each app's :class:`LearnerActivity` drains
those ids every ``FLUSH_SECONDS`` into five-minute buckets:

- with Redis, one HyperLogLog per bucket shared by every instance (``PFADD``; 12 KiB at
  most per bucket, kept 25 hours), and ``PFCOUNT`` over the last 12 / 288 buckets gives the
  distinct learners of the last hour / day across the whole deployment (±0.81 %);
- without Redis (the embedded default: one process) exact sets of ids in this process.

If Redis fails, the buckets of this process answer until it is back (a warning is
logged). The figures are exported as ``campus_active_learners{window="1h"|"24h"}``; every
instance reports the deployment-wide figure, so dashboards take ``max`` across instances.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from redis.asyncio import Redis

from campus.log import get_logger

logger = get_logger("campus.operations")

BUCKET_SECONDS = 300
WINDOWS = {"1h": 3600 // BUCKET_SECONDS, "24h": 86400 // BUCKET_SECONDS}
FLUSH_SECONDS = 15.0
KEEP_SECONDS = 86400 + 3600

_pending: set[int] = set()


def learner_active(user_id: int) -> None:
    """Count ``user_id`` as learning now (call after the commit that made progress)."""
    _pending.add(user_id)


def bucket_of(now: float) -> int:
    return int(now // BUCKET_SECONDS)


class LearnerActivity(Collector):
    """Drains :func:`learner_active` into buckets and exports the windows' counts."""

    def __init__(self, redis: Redis | None, *, key_prefix: str) -> None:
        self.redis = redis
        self.key_prefix = key_prefix
        self._local: dict[int, set[int]] = {}
        self.counts: dict[str, int] = dict.fromkeys(WINDOWS, 0)
        self._task: asyncio.Task[None] | None = None
        self._redis_failing = False

    def register(self, registry: CollectorRegistry) -> LearnerActivity:
        registry.register(self)
        return self

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "campus_active_learners",
            "Distinct learners who enrolled or completed a lesson within the window "
            "(deployment-wide with Redis; take max across instances).",
            labels=["window"],
        )
        for window, count in self.counts.items():
            family.add_metric([window], float(count))
        yield family

    def key(self, bucket: int) -> str:
        return f"{self.key_prefix}:learners:{bucket}"

    async def flush(self, now: float | None = None) -> dict[str, int]:
        """Move the pending ids into the current bucket and recount the windows."""
        now = time.time() if now is None else now
        bucket = bucket_of(now)
        ids = list(_pending)
        _pending.difference_update(ids)
        if ids:
            self._local.setdefault(bucket, set()).update(ids)
        oldest = bucket - max(WINDOWS.values()) + 1
        for old in [b for b in self._local if b < oldest]:
            del self._local[old]
        counts = None
        if self.redis is not None:
            counts = await self._flush_redis(bucket, ids)
        if counts is None:
            counts = {
                window: len(set().union(*(self._local.get(bucket - i, ()) for i in range(size))))
                for window, size in WINDOWS.items()
            }
        self.counts = counts
        return counts

    async def _flush_redis(self, bucket: int, ids: list[int]) -> dict[str, int] | None:
        assert self.redis is not None
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                if ids:
                    pipe.pfadd(self.key(bucket), *ids)
                    pipe.expire(self.key(bucket), KEEP_SECONDS)
                for size in WINDOWS.values():
                    pipe.pfcount(*(self.key(bucket - i) for i in range(size)))
                results = await pipe.execute()
        except Exception as exc:
            if not self._redis_failing:
                logger.warning(
                    "active_learners_redis_unavailable",
                    error=type(exc).__name__,
                    hint="counting this instance's learners until Redis is back",
                )
            self._redis_failing = True
            if ids:  # not lost: they are in this process's bucket, and go to Redis later
                _pending.update(ids)
            return None
        self._redis_failing = False
        return dict(zip(WINDOWS, (int(n) for n in results[-len(WINDOWS) :]), strict=True))

    async def _run(self) -> None:
        while True:
            try:
                await self.flush()
            except Exception as exc:
                logger.error("active_learners_flush_failed", error=type(exc).__name__)
            await asyncio.sleep(FLUSH_SECONDS)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
