"""Database engine, sessions and the declarative base, for SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import enum
from collections import deque
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import MetaData, event, exc
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Session
from sqlalchemy.pool import AsyncAdaptedQueuePool, NullPool
from sqlalchemy.util import queue as sqla_queue
from sqlalchemy.util.concurrency import await_

from campus.config import Settings
from campus.errors import CampusError
from campus.kit.aftercommit import discard_after_commit, run_after_commit

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


# Execution options for a unit of work that writes (only SQLite reads them).
WRITE_TRANSACTION: dict[str, Any] = {"sqlite_begin": "IMMEDIATE"}
# Execution options for a request that only reads, on PostgreSQL: no BEGIN/COMMIT round trips.
READ_ONLY_AUTOCOMMIT: dict[str, Any] = {"isolation_level": "AUTOCOMMIT"}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _install_sqlite_pragmas(
    engine: AsyncEngine, *, busy_timeout_ms: int, foreign_keys: bool
) -> None:
    """WAL, foreign keys and a busy timeout on every SQLite connection.

    pysqlite/aiosqlite begin transactions lazily and break SAVEPOINT; the documented recipe
    is to switch the driver's own transaction handling off and emit BEGIN ourselves. A unit
    of work that will write asks for ``BEGIN IMMEDIATE`` (execution option
    :data:`WRITE_TRANSACTION`), so two writers queue on the busy timeout instead of failing
    with "database is locked" when a read transaction upgrades to a write; reads stay
    deferred and run side by side under WAL.
    """

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute(f"PRAGMA foreign_keys={'ON' if foreign_keys else 'OFF'}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        conn.exec_driver_sql("BEGIN IMMEDIATE" if mode == "IMMEDIATE" else "BEGIN")


class FairAsyncQueue(sqla_queue.AsyncAdaptedQueue[Any]):
    """The connection pool's queue, first come first served.

    SQLAlchemy's asyncio queue lets a request that asks for a connection take one that was
    just returned, ahead of the requests already waiting for it (``asyncio.Queue`` barging);
    a waiter that lost that race goes to the back of the line again. Under more concurrent
    requests than pooled connections, some requests then wait many times longer than others:
    at 32 clients on 10 connections a task list's p99 was 17 times its median (docs/performance.md).
    Here a returned connection is handed straight to the longest waiter, and a connection is
    only taken without waiting while nobody waits.
    """

    def __init__(self, maxsize: int = 0, use_lifo: bool = False) -> None:
        super().__init__(maxsize, use_lifo)
        self._items: deque[Any] = deque()
        self._waiters: deque[asyncio.Future[Any]] = deque()

    def empty(self) -> bool:
        return not self._items

    def full(self) -> bool:
        return 0 < self.maxsize <= len(self._items)

    def qsize(self) -> int:
        return len(self._items)

    def put_nowait(self, item: Any) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(item)
                return
        if self.full():
            raise sqla_queue.Full()
        self._items.append(item)

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        self.put_nowait(item)  # the pool never blocks on a return; a full queue refuses

    def get_nowait(self) -> Any:
        if not self._items:
            raise sqla_queue.Empty()
        return self._items.pop() if self.use_lifo else self._items.popleft()

    def get(self, block: bool = True, timeout: float | None = None) -> Any:
        if self._items or not block:  # items are only ever idle while nobody waits
            return self.get_nowait()
        return await_(self._wait(timeout))

    async def _wait(self, seconds: float | None) -> Any:
        waiter: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            async with asyncio.timeout(seconds):
                return await waiter
        except BaseException as exc:  # a timeout, or the request was cancelled
            if waiter.done() and not waiter.cancelled():
                self.put_nowait(waiter.result())  # handed over just as we gave up: pass it on
            else:
                waiter.cancel()
            if isinstance(exc, TimeoutError):
                raise sqla_queue.Empty() from exc
            raise


class FairAsyncQueuePool(AsyncAdaptedQueuePool):
    """SQLAlchemy's asyncio pool with :class:`FairAsyncQueue`."""

    _queue_class = FairAsyncQueue


def create_engine(
    settings: Settings, *, url: str | None = None, foreign_keys: bool = True, **overrides: Any
) -> AsyncEngine:
    """The engine for ``settings.database_url`` (or ``url``), tuned per backend."""
    database_url = url or settings.database_url
    parsed = make_url(database_url)
    kwargs: dict[str, Any] = {"echo": settings.db_echo}
    if parsed.get_backend_name() == "sqlite":
        kwargs["connect_args"] = {"timeout": settings.sqlite_busy_timeout_ms / 1000}
        if parsed.database in (None, "", ":memory:"):
            kwargs["poolclass"] = NullPool
        else:
            kwargs["poolclass"] = FairAsyncQueuePool
    else:
        # A connection attempt never outlasts the wait for a pooled connection (asyncpg's
        # own default is 60 s): an unreachable server is a 503 within the pool timeout.
        kwargs["connect_args"] = {"timeout": settings.db_pool_timeout_seconds}
        kwargs.update(
            poolclass=FairAsyncQueuePool,
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
            pool_timeout=settings.db_pool_timeout_seconds,
            pool_pre_ping=settings.db_pool_pre_ping,
            pool_recycle=settings.db_pool_recycle_seconds,
        )
    kwargs.update(overrides)
    engine = create_async_engine(database_url, **kwargs)
    if parsed.get_backend_name() == "sqlite":
        _install_sqlite_pragmas(
            engine, busy_timeout_ms=settings.sqlite_busy_timeout_ms, foreign_keys=foreign_keys
        )
    else:
        _install_checkout_liveness(engine)
        _install_connect_errors(engine)
    _install_fault_detection(engine)
    return engine


class DatabaseFault(enum.Enum):
    """Why a statement failed when the fault is the database server's, not the request's.

    ``UNAVAILABLE``: the connection is gone or cannot be made (server stopped, restarting,
    unreachable); ``BUSY``: the server refuses for lack of capacity (too many connections,
    SQLite's lock still held after the busy timeout); ``FULL``: out of storage (SQLite's
    ``SQLITE_FULL``, PostgreSQL's ``disk_full``). Integrity, data and programming errors
    are none of these.
    """

    UNAVAILABLE = "unavailable"
    BUSY = "busy"
    FULL = "full"


# SQLSTATEs of a connection the server ended or refused: class 08 (connection exception),
# admin shutdown, crash shutdown, "the database system is starting up / shutting down",
# idle-session timeout.
_UNAVAILABLE_SQLSTATES = frozenset({"57P01", "57P02", "57P03", "57P05"})
_DISK_FULL_SQLSTATE = "53100"
# SQLite primary result codes (the low byte of an extended code).
_SQLITE_BUSY = 5
_SQLITE_IOERR = 10
_SQLITE_FULL = 13
_SQLITE_CANTOPEN = 14


def _causes(error: BaseException) -> Iterator[BaseException]:
    """``error``, the driver error it wraps and what caused those (explicit causes only,
    bounded, no cycles)."""
    seen: set[int] = set()
    pending: list[BaseException | None] = [error]
    while pending and len(seen) < 12:
        current = pending.pop(0)
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        orig = getattr(current, "orig", None)
        pending.extend((orig if isinstance(orig, BaseException) else None, current.__cause__))


def database_fault(error: BaseException) -> DatabaseFault | None:
    """Classify an error raised by the engine; ``None`` when the request itself is at fault
    (or nobody knows): those stay 4xx/500."""
    if isinstance(error, exc.DBAPIError) and error.connection_invalidated:
        return DatabaseFault.UNAVAILABLE
    if not isinstance(error, exc.StatementError):
        return None
    for cause in _causes(error):
        if isinstance(cause, OSError):  # a socket error under the driver: connection lost
            return DatabaseFault.UNAVAILABLE
        kind = type(cause)
        if kind.__name__ == "InternalClientError" and kind.__module__.startswith("asyncpg"):
            # asyncpg's protocol state machine is out of step: seen when the server's
            # shutdown notice reaches a connection between two statements. The connection
            # cannot be trusted; no statement ran.
            return DatabaseFault.UNAVAILABLE
        sqlstate = getattr(cause, "sqlstate", None)
        if isinstance(sqlstate, str):
            if sqlstate.startswith("08") or sqlstate in _UNAVAILABLE_SQLSTATES:
                return DatabaseFault.UNAVAILABLE
            if sqlstate == _DISK_FULL_SQLSTATE:
                return DatabaseFault.FULL
            if sqlstate.startswith("53"):  # insufficient resources: too many connections, ...
                return DatabaseFault.BUSY
        code = getattr(cause, "sqlite_errorcode", None)
        if isinstance(code, int):
            primary = code & 0xFF
            if primary == _SQLITE_FULL:
                return DatabaseFault.FULL
            if primary == _SQLITE_BUSY:
                return DatabaseFault.BUSY
            if primary in (_SQLITE_IOERR, _SQLITE_CANTOPEN):
                return DatabaseFault.UNAVAILABLE
    return None


def _install_fault_detection(engine: AsyncEngine) -> None:
    """Treat every connection-level fault as a disconnect, so the pool drops the connection
    (and, as for any disconnect, every connection older than it) instead of handing it out
    again. SQLAlchemy recognises only some of them by itself (asyncpg: a closed socket)."""

    @event.listens_for(engine.sync_engine, "handle_error")
    def _on_error(context: Any) -> None:
        if context.is_disconnect:
            return
        error = context.sqlalchemy_exception or context.original_exception
        if database_fault(error) is DatabaseFault.UNAVAILABLE:
            context.is_disconnect = True


def _install_connect_errors(engine: AsyncEngine) -> None:
    """asyncpg raises plain ``OSError`` exceptions (connection refused, timeout, unknown
    host) when it cannot connect, and SQLAlchemy passes those through unwrapped. Turn them
    into the DB-API's ``OperationalError``, as a DB-API driver would, so every connect
    failure surfaces as a SQLAlchemy ``OperationalError`` flagged as a disconnect."""

    @event.listens_for(engine.sync_engine, "do_connect")
    def _connect(dialect: Any, _record: Any, cargs: Any, cparams: Any) -> Any:
        try:
            return dialect.connect(*cargs, **cparams)
        except OSError as error:
            raise dialect.loaded_dbapi.OperationalError(
                f"cannot connect to the database: {type(error).__name__}: {error}", error
            ) from error


def _install_checkout_liveness(engine: AsyncEngine) -> None:
    """Replace a pooled connection the driver already knows is closed, for free.

    The pool does not pre-ping by default (``CAMPUS_DB_POOL_PRE_PING``): on asyncpg a ping
    costs three round trips (BEGIN, an empty query, ROLLBACK) on every checkout. Instead:
    a connection the server closed (restart, idle timeout, ``pg_terminate_backend``) is
    marked closed by the driver as soon as the event loop reads the EOF, and this check,
    which sends nothing, makes the pool discard it and retry with a new connection (the pool
    retries a checkout that raises ``DisconnectionError``). Connections are also recycled
    after ``CAMPUS_DB_POOL_RECYCLE_SECONDS``, which covers links dropped silently by a
    firewall, and a disconnect seen by a query invalidates the whole pool.
    """

    @event.listens_for(engine.sync_engine.pool, "checkout")
    def _on_checkout(_dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        driver = getattr(record, "driver_connection", None)
        is_closed = getattr(driver, "is_closed", None)
        if is_closed is not None and is_closed():
            raise exc.DisconnectionError("the pooled connection was closed by the server")


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


@asynccontextmanager
async def unit_of_work(
    session: AsyncSession, *, autocommit: bool = False
) -> AsyncIterator[AsyncSession]:
    """Commit when the block ends, roll back on error (unless the error asks to commit).

    Callbacks registered with ``campus.kit.aftercommit.after_commit`` run after a successful
    commit and are dropped on rollback.

    ``autocommit``: the session's connection runs every statement in its own transaction
    (:data:`READ_ONLY_AUTOCOMMIT`), so there is nothing to commit unless ORM changes are
    still pending: the commit (a trip through SQLAlchemy's greenlet bridge on every read
    request) is skipped then.
    """
    try:
        yield session
    except CampusError as exc:
        if exc.commit_unit_of_work:
            await _commit(session, autocommit=autocommit)
        else:
            await _rollback(session)
        raise
    except BaseException:
        await _rollback(session)
        raise
    else:
        await _commit(session, autocommit=autocommit)


def _has_pending_changes(session: AsyncSession) -> bool:
    return bool(session.new or session.dirty or session.deleted)


async def _commit(session: AsyncSession, *, autocommit: bool = False) -> None:
    try:
        if not autocommit or _has_pending_changes(session):
            await session.commit()
    except BaseException:
        discard_after_commit(session)
        raise
    run_after_commit(session)


async def _rollback(session: AsyncSession) -> None:
    discard_after_commit(session)
    await session.rollback()


def is_foreign_key_violation(error: exc.IntegrityError) -> bool:
    """A row this statement refers to is gone (or never was): SQLSTATE 23503 on
    PostgreSQL, ``FOREIGN KEY constraint failed`` on SQLite."""
    orig = error.orig
    if getattr(orig, "sqlstate", None) == "23503" or getattr(orig, "pgcode", None) == "23503":
        return True
    return "FOREIGN KEY constraint failed" in str(orig)


def is_unique_violation(error: exc.IntegrityError) -> bool:
    """SQLSTATE 23505 on PostgreSQL, ``UNIQUE constraint failed`` on SQLite."""
    orig = error.orig
    if getattr(orig, "sqlstate", None) == "23505" or getattr(orig, "pgcode", None) == "23505":
        return True
    return "UNIQUE constraint failed" in str(orig)


@asynccontextmanager
async def referenced_rows_may_vanish(
    session: AsyncSession, error: CampusError, *, savepoint: bool = True
) -> AsyncIterator[None]:
    """Run the block's writes in a savepoint; raise ``error`` if a row they refer to was
    deleted meanwhile by a concurrent request (a foreign-key violation).

    For writes that race a delete: a completion or a task pointing at a lesson being
    deleted, a lesson added to a course being deleted. Checked before, such a row existed;
    the database is the only judge of whether it still does when the write lands.

    ``savepoint=False`` saves the savepoint's two round trips where nothing goes on with
    the session after ``error`` (an error that rolls the unit of work back, and no caller
    that catches it to keep using the session): on PostgreSQL the failed statement has
    aborted the transaction then.
    """
    if not savepoint:
        if error.commit_unit_of_work:
            raise ValueError("an error that commits needs the savepoint")
        try:
            yield
        except exc.IntegrityError as caught:
            if is_foreign_key_violation(caught):
                raise error from caught
            raise
        return
    try:
        async with session.begin_nested():
            yield
    except exc.IntegrityError as caught:
        if is_foreign_key_violation(caught):
            raise error from caught
        raise


_FLUSHED = "campus.flushed"


@event.listens_for(Session, "after_flush")
def _remember_flush(session: Session, _context: Any) -> None:
    session.info[_FLUSHED] = True


@asynccontextmanager
async def connection_released(session: AsyncSession) -> AsyncIterator[None]:
    """Give the unit of work's connection back for a slow step that needs no database.

    A password hash takes tens of milliseconds of CPU in a worker thread, and at most a few
    run at once: holding a pooled connection (and on SQLite the write lock of ``BEGIN
    IMMEDIATE``) meanwhile would let a sign-in flood starve every other request of
    connections. Only a unit of work that has written nothing may do this (checked): its
    transaction ends, what it read stays loaded (``expire_on_commit=False``), and after the
    block the unit of work goes on in a new write transaction.
    """
    if session.new or session.dirty or session.deleted or session.info.get(_FLUSHED):
        raise RuntimeError("connection_released() after a write would commit it early")
    await session.commit()
    yield
    await session.connection(execution_options=WRITE_TRANSACTION)


class Database:
    """The engine and session factory of one application instance."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.engine = create_engine(settings)
        self.sessionmaker = create_sessionmaker(self.engine)
        # Sessions for a request that only reads (see campus.http.deps.get_session): on
        # PostgreSQL their connections run in autocommit, so a read sends no BEGIN and no
        # COMMIT; SQLite keeps its deferred read transaction (there is no network there).
        self.reads_autocommit = self.engine.dialect.name != "sqlite"
        self.read_sessionmaker = (
            create_sessionmaker(self.engine.execution_options(**READ_ONLY_AUTOCOMMIT))
            if self.reads_autocommit
            else self.sessionmaker
        )

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A unit of work outside a request (CLI, jobs): commit on success, else roll back."""
        async with self.sessionmaker() as session, unit_of_work(session):
            await session.connection(execution_options=WRITE_TRANSACTION)
            yield session

    async def dispose(self) -> None:
        await self.engine.dispose()
