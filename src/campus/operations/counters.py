"""Domain counters for Prometheus: what learners do, counted after the commit that made it
true (so a rolled-back request counts nothing).

A process serves one application, so these counters are process-wide; every application's
registry exports them (``campus.operations.metrics``). Services import this module, which
knows nothing of HTTP.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter

REGISTRY = CollectorRegistry(auto_describe=True)

ENROLLMENTS = Counter(
    "campus_enrollments",
    "Enrollments started (or resumed after leaving), counted after commit.",
    registry=REGISTRY,
)
LESSON_COMPLETIONS = Counter(
    "campus_lesson_completions",
    "Lessons newly marked complete, counted after commit.",
    registry=REGISTRY,
)
