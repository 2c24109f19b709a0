"""Prometheus metrics: requests by method, route template and status; latency; DB pool;
and the domain counters of :mod:`campus.operations.counters` (enrollments, completions).

Each application owns its registry (tests build many apps in one process). Labels use the
route *template* (``/api/v1/courses/{course_id}``), never the raw path, so cardinality
stays bounded; unmatched paths share the label ``<unmatched>``. No user data is exported.

With several worker processes (``campus serve --workers N``) each worker answers for
itself; scrape through a per-pod endpoint or run one worker per container (the Kubernetes
way), as the README's Operations section explains.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from campus.http.middleware import route_template
from campus.operations import counters

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class PoolCollector(Collector):
    """The database connection pool, read at scrape time."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    def collect(self) -> Iterator[GaugeMetricFamily]:
        pool = self.engine.sync_engine.pool
        readings = {
            "campus_db_pool_size": ("Connections the pool keeps.", "size"),
            "campus_db_pool_checked_out": ("Connections in use.", "checkedout"),
            "campus_db_pool_checked_in": ("Idle connections in the pool.", "checkedin"),
            "campus_db_pool_overflow": ("Connections beyond the pool size.", "overflow"),
        }
        for name, (doc, method) in readings.items():
            reader = getattr(pool, method, None)
            if callable(reader):
                # QueuePool.overflow() counts from -pool_size; the gauge shows connections
                # opened beyond the pool, never a negative number.
                value = max(0.0, float(reader())) if method == "overflow" else float(reader())
                yield GaugeMetricFamily(name, doc, value=value)


class RegistryCollector(Collector):
    """Exports another registry's metrics (the process-wide domain counters) through this
    application's registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.source = registry

    def collect(self) -> Iterator[Metric]:
        yield from self.source.collect()


class Metrics:
    def __init__(self, engine: AsyncEngine) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "campus_http_requests",
            "HTTP requests by method, route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "campus_http_request_duration_seconds",
            "HTTP request latency by method and route template.",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.registry.register(PoolCollector(engine))
        self.registry.register(RegistryCollector(counters.REGISTRY))

    def observe(self, *, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)


class MetricsMiddleware:
    """Counts and times every HTTP request (pure ASGI)."""

    def __init__(self, app: ASGIApp, *, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            self.metrics.observe(
                method=scope.get("method", ""),
                route=route_template(scope),
                status=status,
                seconds=time.perf_counter() - started,
            )
