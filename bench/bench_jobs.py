"""Jobs for bench/jobs.py (loaded by its workers through CAMPUS_JOB_MODULES).

``bench.notify`` is the issue's "small job, a notification each": one notification stored
exactly once under its effect key (``notifications.notify_once``: group commit with the
other jobs running at that moment, delivered live after the commit). ``bench.ping``
records how long it waited between enqueue and start, in a Redis list.
"""

from __future__ import annotations

import time

import redis.asyncio as aioredis

from campus.jobs import JobContext, job
from campus.notifications import service as notifications

_redis: dict[str, aioredis.Redis] = {}


@job("bench.notify")
async def notify(ctx: JobContext, *, user_id: int, n: int) -> None:
    await notifications.notify_once(
        ctx,
        effect=f"bench:{user_id}:{n}",
        user_id=user_id,
        kind="bench.notice",
        data={"n": n},
        title="Bench",
    )


@job("bench.noop")
async def noop(ctx: JobContext, *, user_id: int, n: int) -> None:
    """The queue's own cost: no database."""
    del ctx, user_id, n


@job("bench.ping")
async def ping(ctx: JobContext, *, sent_ns: int, run: str) -> None:
    waited_ns = time.time_ns() - sent_ns
    url = ctx.settings.redis_url or ""
    client = _redis.get(url) or _redis.setdefault(url, aioredis.Redis.from_url(url))
    await client.rpush(f"bench:latency:{run}", waited_ns)
