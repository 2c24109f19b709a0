"""What a running job gets: settings, a unit of work, its name and try number."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from campus.config import Settings
from campus.db import Database


@dataclass(frozen=True, slots=True)
class JobContext:
    settings: Settings
    database: Database
    job: str
    attempt: int
    #: True when the job runs from the Redis queue, which may deliver it again (a worker
    #: killed after the effect, before the acknowledgement). In-process jobs never are.
    redelivery_possible: bool

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A unit of work: commits at the end (then runs after-commit hooks), else rolls back."""
        async with self.database.session() as session:
            yield session
