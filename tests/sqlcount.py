"""Count the SQL statements an engine runs, to prove a list has no query per row."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

_BOOKKEEPING = ("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT", "BEGIN", "COMMIT")


@dataclass
class StatementLog:
    statements: list[str] = field(default_factory=list)

    @property
    def queries(self) -> list[str]:
        """Statements that read or write data (transaction bookkeeping left out)."""
        return [s for s in self.statements if not s.lstrip().upper().startswith(_BOOKKEEPING)]

    def __len__(self) -> int:
        return len(self.queries)


@contextmanager
def count_statements(bind: AsyncEngine | AsyncConnection) -> Iterator[StatementLog]:
    """``with count_statements(engine) as log: ...`` then ``len(log)`` / ``log.queries``.

    Pass the session-scoped ``engine`` fixture (it sees the ``client`` fixture's connection
    too, which comes from that engine) or a single connection.
    """
    target = bind.sync_engine if isinstance(bind, AsyncEngine) else bind.sync_connection
    log = StatementLog()

    def before(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        log.statements.append(statement)

    assert target is not None
    event.listen(target, "before_cursor_execute", before)
    try:
        yield log
    finally:
        event.remove(target, "before_cursor_execute", before)


def savepoints(log: StatementLog) -> int:
    return sum(1 for s in log.statements if s.lstrip().upper().startswith("SAVEPOINT"))


async def request_costs(
    client: httpx.AsyncClient,
    engine: AsyncEngine,
    headers: dict[str, str],
    method: str,
    url: str,
    **kwargs: Any,
) -> tuple[httpx.Response, int, int, list[str]]:
    """One signed-in request's response, its statements and savepoints beyond what signing
    in costs (``GET /api/v1/auth/me`` with the same headers, measured just before), and
    its queries (for the assertion's message)."""
    with count_statements(engine) as base:
        assert (await client.get("/api/v1/auth/me", headers=headers)).status_code == 200
    with count_statements(engine) as log:
        response = await client.request(method, url, headers=headers, **kwargs)
    extra = len(log) - len(base)
    return response, extra, savepoints(log) - savepoints(base), log.queries
