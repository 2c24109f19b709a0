"""What a running job gets: settings, a unit of work, its name and try number, and the
process's group commit (rows written together with those of the jobs running now)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from campus.config import Settings
from campus.db import Database
from campus.jobs.batch import BatchedWrite, GroupCommits

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class JobContext:
    settings: Settings
    database: Database
    job: str
    attempt: int
    #: True when the job runs from the Redis queue, which may deliver it again (a worker
    #: killed after the effect, before the acknowledgement). In-process jobs never are.
    redelivery_possible: bool
    batches: GroupCommits

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A unit of work: commits at the end (then runs after-commit hooks), else rolls back."""
        async with self.database.session() as session:
            yield session

    async def write_batched(self, kind: BatchedWrite[T, R], item: T) -> R:
        """Write ``item`` in one transaction with the rows of the jobs running now in this
        process; return its result once that transaction has committed (see
        :mod:`campus.jobs.batch`). The job's effect must be keyed (idempotent) in ``kind``."""
        return await self.batches.submit(kind, item)
