"""Running one try of a job: look it up, validate its payload, run it, classify the result.

The same runner serves the Redis worker and the in-process fallback, so a job behaves the
same in both. The outcome of a try is *done*, *retry* (after a backoff with jitter) or
*failed*: an unknown job name, a malformed payload, a :class:`PermanentJobError` (a row
that is gone, a rejected mail) or the last allowed try failing. A failure is logged with
the job's name and reason and kept in ``job_failures``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import ValidationError

from campus.config import Settings
from campus.db import Database
from campus.jobs import failures
from campus.jobs.batch import GroupCommits
from campus.jobs.context import JobContext
from campus.jobs.errors import PermanentJobError, RetryJob
from campus.jobs.metrics import JobMetrics
from campus.jobs.registry import get_job
from campus.jobs.retry import backoff_seconds
from campus.log import get_logger

logger = get_logger("campus.jobs")


@dataclass(frozen=True, slots=True)
class Outcome:
    kind: Literal["done", "retry", "failed"]
    delay: float = 0.0
    error: str | None = None


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class JobRunner:
    def __init__(
        self, settings: Settings, database: Database, metrics: JobMetrics, *, durable: bool
    ) -> None:
        self.settings = settings
        self.database = database
        self.metrics = metrics
        self.durable = durable
        self.batches = GroupCommits(database)

    def max_tries(self, name: str) -> int:
        spec = get_job(name)
        return (spec.max_tries if spec and spec.max_tries else None) or self.settings.jobs_max_tries

    async def execute(self, name: Any, payload: Any, attempt: int) -> Outcome:
        label = name if isinstance(name, str) and get_job(name) else "<unknown>"
        spec = get_job(name) if isinstance(name, str) else None
        if spec is None:
            return await self._fail(label, name, payload, attempt, f"unknown job {name!r}")
        if not isinstance(payload, dict):
            return await self._fail(
                label, name, payload, attempt, "malformed payload: not an object"
            )
        try:
            params = spec.params.model_validate(payload)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'payload'}: {e['msg']}"
                for e in exc.errors()
            )
            return await self._fail(label, name, payload, attempt, f"malformed payload: {problems}")
        max_tries = self.max_tries(name)
        if attempt > max_tries:
            return await self._fail(
                label,
                name,
                payload,
                attempt,
                f"gave up after {max_tries} tries (the last one was interrupted)",
            )
        ctx = JobContext(
            settings=self.settings,
            database=self.database,
            job=name,
            attempt=attempt,
            redelivery_possible=self.durable,
            batches=self.batches,
        )
        self.metrics.started.labels(label).inc()
        started = time.perf_counter()
        try:
            await spec.fn(ctx, **params.model_dump())
        except PermanentJobError as exc:
            self.metrics.duration.labels(label).observe(time.perf_counter() - started)
            return await self._fail(label, name, payload, attempt, str(exc) or type(exc).__name__)
        except Exception as exc:
            self.metrics.duration.labels(label).observe(time.perf_counter() - started)
            error = _describe(exc)
            if attempt >= max_tries:
                return await self._fail(
                    label, name, payload, attempt, f"failed {attempt} of {max_tries} tries: {error}"
                )
            delay = backoff_seconds(
                attempt,
                base=self.settings.jobs_retry_base_seconds,
                cap=self.settings.jobs_retry_max_seconds,
            )
            if isinstance(exc, RetryJob) and exc.after is not None:
                delay = max(delay, min(exc.after, self.settings.jobs_retry_max_seconds))
            self.metrics.retried.labels(label).inc()
            logger.warning(
                "job_retry",
                job=name,
                attempt=attempt,
                max_tries=max_tries,
                retry_in_seconds=round(delay, 3),
                error=error,
            )
            return Outcome("retry", delay=delay, error=error)
        self.metrics.duration.labels(label).observe(time.perf_counter() - started)
        self.metrics.succeeded.labels(label).inc()
        return Outcome("done")

    async def _fail(self, label: str, name: Any, payload: Any, attempt: int, error: str) -> Outcome:
        self.metrics.failed.labels(label).inc()
        logger.error(
            "job_failed_permanently",
            job=name,
            attempt=attempt,
            error=error,
            payload_keys=sorted(payload) if isinstance(payload, dict) else None,
        )
        try:
            async with self.database.session() as session:
                await failures.record_failure(
                    session, job=str(name), payload=payload, error=error, attempts=attempt
                )
        except Exception as exc:  # the database is down: the log line above is all we keep
            logger.error("job_failure_not_recorded", job=name, error=_describe(exc))
        return Outcome("failed", error=error)
