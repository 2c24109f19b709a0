"""Prometheus metrics of the jobs (names agreed across Campus; see docs/architecture.md)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

DURATION_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 60.0)


class JobMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        r = self.registry
        self.enqueued = Counter(
            "campus_jobs_enqueued", "Jobs enqueued, by job.", ["job"], registry=r
        )
        self.started = Counter(
            "campus_jobs_started", "Job runs started, by job.", ["job"], registry=r
        )
        self.succeeded = Counter(
            "campus_jobs_succeeded", "Job runs that succeeded, by job.", ["job"], registry=r
        )
        self.failed = Counter(
            "campus_jobs_failed", "Jobs that failed for good, by job.", ["job"], registry=r
        )
        self.retried = Counter(
            "campus_jobs_retried",
            "Job runs that failed and will be retried, by job.",
            ["job"],
            registry=r,
        )
        self.queue_depth = Gauge(
            "campus_jobs_queue_depth",
            "Jobs waiting: in the Redis queue (scheduled ones included), or in process.",
            registry=r,
        )
        self.duration = Histogram(
            "campus_job_duration_seconds",
            "Job run time, by job.",
            ["job"],
            buckets=DURATION_BUCKETS,
            registry=r,
        )
