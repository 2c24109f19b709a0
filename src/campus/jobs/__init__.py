"""Background jobs (never "tasks": tasks are a learning domain).

``enqueue(session, "job.name", some_id=1)`` runs a registered job after the unit of work
commits: through Redis and ``campus worker`` when CAMPUS_REDIS_URL is set, else in this
process. Jobs are registered with ``@job("name")`` in ``campus/<domain>/jobs.py``; each
takes ids, and each is idempotent (a unique key per effect, checked in the database).
See docs/architecture.md, "Background jobs".
"""

from campus.jobs.context import JobContext
from campus.jobs.errors import PermanentJobError, RetryJob, UnknownJob
from campus.jobs.failures import claim_effect, claim_effects, effect_done
from campus.jobs.queue import JobQueue, current_queue, drain, enqueue, use_queue
from campus.jobs.registry import job, load_jobs

__all__ = [
    "JobContext",
    "JobQueue",
    "PermanentJobError",
    "RetryJob",
    "UnknownJob",
    "claim_effect",
    "claim_effects",
    "current_queue",
    "drain",
    "effect_done",
    "enqueue",
    "job",
    "load_jobs",
    "use_queue",
]
