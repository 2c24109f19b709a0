"""What ``campus worker`` and ``campus jobs ...`` do (the CLI only parses and prints)."""

from __future__ import annotations

from dataclasses import dataclass

from campus.config import Settings
from campus.db import Database
from campus.jobs import failures
from campus.jobs.queue import JobQueue, use_queue
from campus.jobs.registry import load_jobs


@dataclass(frozen=True, slots=True)
class FailureLine:
    id: int
    job: str
    attempts: int
    failed_at: str
    retried_at: str | None
    payload: str
    error: str


async def list_failed(settings: Settings, *, include_retried: bool = False) -> list[FailureLine]:
    database = Database(settings)
    try:
        async with database.session() as session:
            rows = await failures.list_failures(session, include_retried=include_retried)
            return [
                FailureLine(
                    id=r.id,
                    job=r.job,
                    attempts=r.attempts,
                    failed_at=r.failed_at.isoformat(timespec="seconds"),
                    retried_at=r.retried_at.isoformat(timespec="seconds") if r.retried_at else None,
                    payload=r.payload,
                    error=r.error,
                )
                for r in rows
            ]
    finally:
        await database.dispose()


class RetryRefused(Exception):
    pass


async def retry_failed(settings: Settings, failure_id: int) -> str:
    """Queue failure ``failure_id`` again; return where it went ("redis" or "local").

    Without Redis the job runs here and now, and this returns once it has finished (if it
    fails again, it is a new failure with a new id).
    """
    load_jobs(settings.job_modules)
    database = Database(settings)
    queue = JobQueue(settings, database)
    use_queue(queue)
    try:
        async with database.session() as session:
            failure = await failures.take_for_retry(session, failure_id)
            if failure is None:
                raise RetryRefused(f"no failed job {failure_id} waiting for a retry")
            job, payload = failure.job, failures.decode_payload(failure)
        where = await queue.submit(job, payload)
        await queue.drain()
        return where
    finally:
        await queue.close()
        await database.dispose()
