"""Group commit: the jobs running at once in one process write their rows together.

A job that writes one small effect (a notification to one user) costs little SQL but a
whole unit of work: a pooled connection, BEGIN, the statements, COMMIT, and the ORM's
flush around them. Here such a job hands its row to a :class:`GroupCommit` writer of its
process and waits: the writer takes every row handed in meanwhile, writes them with one
``write(connection, items)`` call (a few multi-row statements) in ONE transaction, and
resolves each job's wait with its own result once that transaction has committed. So:

- a job succeeds only after its row is committed (then the ``after_commit`` hook runs,
  once per batch: e.g. one broadcast of every row's live frame);
- batches size themselves: while one transaction is in flight the next rows gather, so an
  idle process writes a lone row at once (no timer, no added wait) and a busy one writes
  dozens per commit;
- when a batch fails, each of its rows is written again in a transaction of its own, so a
  bad row (a user deleted meanwhile) fails its own job only, and a database that is down
  fails every job, each retried with backoff by :mod:`campus.jobs.runner`;
- ``write`` must be idempotent per row (a unique effect key checked in the database, e.g.
  ``INSERT ... ON CONFLICT DO NOTHING``): a batch whose COMMIT was lost in transit is
  written again row by row, and a job redelivered after its row committed finds its key.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection

from campus.db import WRITE_TRANSACTION, Database
from campus.log import get_logger

logger = get_logger("campus.jobs")

T = TypeVar("T")
R = TypeVar("R")

#: Rows in one transaction at most: bounds a statement's parameters (SQLite allows 32,766)
#: and how much one failed batch must write again row by row.
MAX_BATCH = 200


@dataclass(frozen=True, slots=True)
class BatchedWrite(Generic[T, R]):
    """A kind of row jobs write together: ``write`` stores many in one transaction and
    returns one result per item (in order); ``after_commit`` runs once per committed batch
    (quick and synchronous, like every after-commit hook: it hands work off)."""

    name: str
    write: Callable[[AsyncConnection, Sequence[T]], Awaitable[Sequence[R]]]
    after_commit: Callable[[Database, Sequence[R]], None] | None = None


class GroupCommit(Generic[T, R]):
    """The writer of one :class:`BatchedWrite` in one process (see the module docstring)."""

    def __init__(
        self, database: Database, kind: BatchedWrite[T, R], *, max_batch: int = MAX_BATCH
    ) -> None:
        self.database = database
        self.kind = kind
        self.max_batch = max_batch
        self._pending: list[tuple[T, asyncio.Future[R]]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def submit(self, item: T) -> R:
        """Write ``item`` with the rows of the jobs running now; its result once committed."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[R] = loop.create_future()
        self._pending.append((item, done))
        flusher = self._flusher
        if flusher is None or flusher.done() or flusher.get_loop() is not loop:
            self._flusher = loop.create_task(self._flush_all())
        return await done

    async def _flush_all(self) -> None:
        batch: list[tuple[T, asyncio.Future[R]]] = []
        try:
            # One loop iteration first: the jobs started together hand in their rows.
            await asyncio.sleep(0)
            while self._pending:
                batch = self._pending[: self.max_batch]
                del self._pending[: self.max_batch]
                await self._flush(batch)
        except BaseException as exc:  # cancelled (the loop is closing): nobody waits forever
            for _, done in (*batch, *self._pending):
                _settle(done, error=exc)
            self._pending.clear()
            raise

    async def _flush(self, batch: list[tuple[T, asyncio.Future[R]]]) -> None:
        try:
            results = await self._transaction([item for item, _ in batch])
        except Exception as exc:
            if len(batch) == 1:
                _settle(batch[0][1], error=exc)
                return
            logger.warning(
                "job_group_commit_split",
                write=self.kind.name,
                rows=len(batch),
                error=f"{type(exc).__name__}: {exc}"[:300],
                hint="writing each row in its own transaction",
            )
            for one in batch:
                await self._flush([one])
            return
        for (_, done), result in zip(batch, results, strict=True):
            _settle(done, result=result)

    async def _transaction(self, items: list[T]) -> Sequence[R]:
        async with self.database.engine.connect() as conn:
            await conn.execution_options(**WRITE_TRANSACTION)
            async with conn.begin():
                results = await self.kind.write(conn, items)
                if len(results) != len(items):
                    raise RuntimeError(
                        f"{self.kind.name}: {len(results)} results for {len(items)} rows"
                    )
        if self.kind.after_commit is not None:
            try:
                self.kind.after_commit(self.database, results)
            except Exception:  # the rows are stored: a failed hand-off fails no job
                logger.exception("job_group_commit_hook_failed", write=self.kind.name)
        return results


def _settle(
    done: asyncio.Future[Any], *, result: Any = None, error: BaseException | None = None
) -> None:
    if done.done():  # the job was cancelled meanwhile (timeout, shutdown): it is retried
        return
    if isinstance(error, Exception):
        done.set_exception(error)
    elif error is not None:
        done.cancel()
    else:
        done.set_result(result)


class GroupCommits:
    """The writers of one process, one per :class:`BatchedWrite`, made on first use."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self._writers: dict[str, GroupCommit[Any, Any]] = {}

    async def submit(self, kind: BatchedWrite[T, R], item: T) -> R:
        writer: GroupCommit[T, R] | None = self._writers.get(kind.name)
        if writer is None:
            writer = self._writers[kind.name] = GroupCommit(self.database, kind)
        return await writer.submit(item)
