"""Scheduled jobs inside the app process, for the embedded default without Redis.

With Redis the worker schedules them (SAQ cron jobs, one tick queued at a time across
workers). Without it, each app process runs this loop; a tick that two processes both run
is harmless, since every scheduled job is idempotent (a unique key per effect).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from croniter import croniter

from campus.jobs.queue import JobQueue
from campus.jobs.registry import scheduled_jobs
from campus.log import get_logger

logger = get_logger("campus.jobs")


async def _every(queue: JobQueue, tab: str, job: str) -> None:
    while True:
        now = datetime.now(UTC)
        delay = croniter(tab, now).get_next(datetime) - now
        await asyncio.sleep(max(delay.total_seconds(), 0.5))
        try:
            await queue.submit(job, {})
        except Exception:
            logger.exception("job_schedule_failed", job=job)


def start_local_schedule(queue: JobQueue) -> list[asyncio.Task[None]]:
    tasks = []
    for spec in scheduled_jobs():
        assert spec.schedule_setting
        tab = str(getattr(queue.settings, spec.schedule_setting))
        tasks.append(asyncio.get_running_loop().create_task(_every(queue, tab, spec.name)))
    return tasks
