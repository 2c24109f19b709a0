"""The WebSocket ``/api/v1/ws`` (API.md §7): connections, frames and the hub of a process.

Opening: the ``Origin`` (when sent) must be the app's own (``CAMPUS_BASE_URL``) or one of
``CAMPUS_CORS_ORIGINS``; then a ticket (``?ticket=``, single-use, 60 s) or the page session
cookie (which needs an allowed ``Origin``: a browser always sends one). Anything else is
refused *before* the handshake is accepted (HTTP 403).

Frames are JSON text. Client: ``subscribe`` / ``unsubscribe`` ``{course_id}``,
``chat.send`` ``{course_id, body}``, ``ping``. Server: ``subscribed`` / ``unsubscribed``,
``chat.message`` / ``chat.message_edited`` / ``chat.message_deleted``, ``notification``,
``pong``, ``error {detail, code}``. Bad frames (not JSON, over
``CAMPUS_WS_MAX_FRAME_BYTES``, unknown type, missing fields) get an ``error`` frame and the
socket stays open; a flood gets an ``error`` frame, then close 1008.

A socket never holds a database session: each frame that needs the database opens a unit
of work for itself and checks first that the socket's sign-in session is still live. A hub
task checks every open socket's session every ``CAMPUS_WS_SESSION_CHECK_SECONDS`` and
closes (1008) those whose session ended (logout, deactivation, password change).

Access can end while a socket follows a course (the student left it or was refunded, the
course was deleted or unpublished, a role changed): the service that changed it publishes
:data:`~campus.realtime.broadcast.ACCESS_CHANGED` after its commit, and each socket that
receives it checks its subscriptions again with the rule of ``subscribe``; one it may no
longer follow gets ``unsubscribed {course_id, reason: "access-ended"}`` and no more frames
of that course.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Generator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

import orjson
from fastapi import WebSocket
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.routing import WebSocketRoute
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocketState

from campus.chat import service as chat_service
from campus.chat.schemas import MessageCreate
from campus.config import Settings
from campus.db import WRITE_TRANSACTION, Database, database_fault, unit_of_work
from campus.errors import CampusError
from campus.http.identity import SESSION_COOKIE
from campus.log import get_logger
from campus.models.accounts import User
from campus.realtime import service
from campus.realtime.broadcast import (
    ACCESS_CHANGED,
    Broadcaster,
    RealtimeMetrics,
    course_channel,
    user_channel,
)
from campus.realtime.service import SocketIdentity

logger = get_logger("campus.realtime")

MAX_SUBSCRIPTIONS = 50
CLOSE_POLICY = 1008
CLOSE_GOING_AWAY = 1001
CLOSE_TRY_AGAIN = 1013
MAX_ID = 2**31 - 1


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` in lower case, without the scheme's default port."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if not scheme or not host:
        return ""
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        return ""
    default = {"http": 80, "https": 443, "ws": 80, "wss": 443}.get(scheme)
    return f"{scheme}://{host}" + (f":{port}" if port and port != default else "")


def allowed_origins(settings: Settings) -> frozenset[str]:
    origins = {origin_of(settings.base_url)}
    origins.update(origin_of(o) for o in settings.cors_origins if o != "*")
    origins.discard("")
    return frozenset(origins)


def _frame(kind: str, **fields: Any) -> str:
    return orjson.dumps({"type": kind, **fields}).decode()


def error_frame(detail: str, code: str) -> str:
    return _frame("error", detail=detail, code=code)


class _Close:
    __slots__ = ("code", "reason")

    def __init__(self, code: int, reason: str) -> None:
        self.code = code
        self.reason = reason


class _Started:
    """An awaitable stepped by hand that is now waiting: awaiting this finishes it.

    Python 3.12's eager tasks do the same for a whole task; Campus runs on 3.11, so
    :meth:`Connection.deliver` starts the ASGI ``send`` itself and only a send that has
    to wait (the peer reads slowly and the server paused writing) becomes a task.
    """

    __slots__ = ("steps", "waiting")

    def __init__(self, steps: Generator[Any, None, Any], waiting: Any) -> None:
        self.steps = steps  # the awaitable's __await__() iterator, after its first step
        self.waiting = waiting  # what that step yielded (a future for the task to wait on)

    def __await__(self) -> Generator[Any, None, None]:
        coro, waiting = self.steps, self.waiting
        while True:
            try:
                yield waiting
            except GeneratorExit:
                coro.close()
                raise
            except BaseException as exc:  # cancellation: the send gets it where it waits
                try:
                    waiting = coro.throw(exc)
                except StopIteration:
                    return
            else:
                try:
                    waiting = coro.send(None)
                except StopIteration:
                    return


class Connection:
    """One open socket: who it is, what it listens to, and its outgoing frames.

    A frame is written at once, by calling the server's ASGI ``send`` in the delivering
    code (a fan-out to 1,000 sockets is one loop, with no task per socket). Only when a
    send has to wait (its peer reads slowly) does a flush task finish it; frames that come
    meanwhile queue behind it, in order, and the task writes them, then ends. So an idle
    socket, or one that keeps up, costs no task of its own.
    """

    __slots__ = (
        "closed",
        "courses",
        "flusher",
        "identity",
        "last_refill",
        "limit",
        "on_access_changed",
        "pending",
        "send",
        "strikes",
        "tokens",
        "ws",
    )

    def __init__(
        self, ws: WebSocket, send: Send, identity: SocketIdentity, settings: Settings
    ) -> None:
        self.ws = ws
        self.send = send  # the server's own ASGI send (no wrappers between)
        self.identity = identity
        self.courses: set[int] = set()
        # Frames waiting behind a send that waits; never non-empty without a flusher.
        self.pending: deque[str | _Close] = deque()
        self.flusher: asyncio.Task[None] | None = None
        self.closed = False
        self.limit = settings.ws_send_queue
        self.tokens = float(settings.ws_frame_burst)
        self.last_refill = time.monotonic()
        self.strikes = 0
        self.on_access_changed: Callable[[Connection], None] | None = None

    @property
    def user_id(self) -> int:
        return self.identity.user_id

    def deliver(self, frame: str) -> None:
        """Send a frame now, or queue it (a broadcaster listener: synchronous, never blocks)."""
        if self.closed:
            return
        if frame == ACCESS_CHANGED:
            if self.on_access_changed is not None:
                self.on_access_changed(self)
            return
        if self.flusher is not None:
            if len(self.pending) >= self.limit:
                self.close_soon(CLOSE_TRY_AGAIN, "too slow")
                return
            self.pending.append(frame)
            return
        if self.ws.application_state != WebSocketState.CONNECTED:
            return
        sending = self.send({"type": "websocket.send", "text": frame}).__await__()
        try:
            waiting = next(sending)
        except StopIteration:
            return  # written (the usual case)
        except Exception:
            self.closed = True  # the peer is gone; the receive loop sees the disconnect
            return
        loop = asyncio.get_running_loop()
        self.flusher = loop.create_task(self._flush(_Started(sending, waiting)))

    def close_soon(self, code: int, reason: str) -> None:
        """Close after the frames already queued (e.g. the error frame that explains it)."""
        if self.closed:
            return
        self.closed = True
        self.pending.append(_Close(code, reason))
        if self.flusher is None:
            self.flusher = asyncio.get_running_loop().create_task(self._flush(None))

    async def _flush(self, started: _Started | None) -> None:
        try:
            if started is not None:
                await started
            while self.pending:
                item = self.pending.popleft()
                if isinstance(item, _Close):
                    self.pending.clear()
                    if self.ws.application_state == WebSocketState.CONNECTED:
                        await self.ws.close(code=item.code, reason=item.reason)
                    return
                if self.ws.application_state != WebSocketState.CONNECTED:
                    self.pending.clear()
                    return
                await self.send({"type": "websocket.send", "text": item})
        except Exception:
            self.closed = True
            self.pending.clear()
        finally:
            self.flusher = None

    def take_token(self, rate: float, burst: int) -> bool:
        now = time.monotonic()
        self.tokens = min(float(burst), self.tokens + (now - self.last_refill) * rate)
        self.last_refill = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            self.strikes = 0
            return True
        self.strikes += 1
        return False


class SocketHub:
    """The open sockets of this process, and the check that ends them with their session."""

    def __init__(
        self,
        settings: Settings,
        database: Database,
        broadcaster: Broadcaster,
        metrics: RealtimeMetrics | None,
    ) -> None:
        self.settings = settings
        self.database = database
        self.broadcaster = broadcaster
        self.metrics = metrics
        self.origins = allowed_origins(settings)
        self.connections: set[Connection] = set()
        self._checker: asyncio.Task[None] | None = None
        self._rechecks: dict[Connection, asyncio.Task[None]] = {}

    async def start(self) -> None:
        await self.broadcaster.start()
        self._checker = asyncio.get_running_loop().create_task(self._check_sessions())

    def going_away(self) -> None:
        """Close every open socket with 1001 (Going Away), after the frames already queued."""
        for connection in list(self.connections):
            connection.close_soon(CLOSE_GOING_AWAY, "server shutting down")

    def close_on_termination(self) -> Callable[[], None]:
        """Say 1001 to every socket as soon as SIGTERM or SIGINT arrives; returns the undo.

        The server (uvicorn) stops listening on SIGTERM, then closes the sockets still open
        itself, with 1012 (Service Restart), before the application's shutdown runs. So the
        signal handler the server installed is chained: ours first schedules
        :meth:`going_away` on the event loop, then the server's runs as before. Nothing is
        installed when no server handles the signal (a test client, a script) or off the
        main thread.
        """
        if threading.current_thread() is not threading.main_thread():
            return lambda: None
        loop = asyncio.get_running_loop()
        installed: dict[int, Any] = {}

        def make_handler(previous: Callable[[int, Any], Any]) -> Callable[[int, Any], None]:
            def handler(signum: int, frame: Any) -> None:
                loop.call_soon_threadsafe(self.going_away)
                previous(signum, frame)

            return handler

        for signum in (signal.SIGTERM, signal.SIGINT):
            previous = signal.getsignal(signum)
            if callable(previous):
                ours = make_handler(previous)
                signal.signal(signum, ours)
                installed[signum] = (previous, ours)

        def undo() -> None:
            for signum, (previous, ours) in installed.items():
                if signal.getsignal(signum) is ours:
                    signal.signal(signum, previous)

        return undo

    async def stop(self) -> None:
        if self._checker is not None:
            self._checker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._checker
        for recheck in list(self._rechecks.values()):
            recheck.cancel()
        self.going_away()
        flushers = [c.flusher for c in self.connections if c.flusher is not None]
        if flushers:
            await asyncio.wait(flushers, timeout=2)
        await self.broadcaster.stop()

    async def add(self, connection: Connection) -> None:
        connection.on_access_changed = self.recheck_soon
        self.connections.add(connection)
        if self.metrics is not None:
            self.metrics.connections.set(len(self.connections))
        await self.broadcaster.subscribe(user_channel(connection.user_id), connection.deliver)

    async def remove(self, connection: Connection) -> None:
        self.connections.discard(connection)
        if self.metrics is not None:
            self.metrics.connections.set(len(self.connections))
        await self.broadcaster.unsubscribe(user_channel(connection.user_id), connection.deliver)
        for course_id in list(connection.courses):
            await self.broadcaster.unsubscribe(course_channel(course_id), connection.deliver)
        connection.courses.clear()
        recheck = self._rechecks.pop(connection, None)
        if recheck is not None:
            recheck.cancel()

    def recheck_soon(self, connection: Connection) -> None:
        """Check ``connection``'s subscriptions again (one check at a time per socket)."""
        if connection.closed or connection in self._rechecks or not connection.courses:
            return
        task = asyncio.get_running_loop().create_task(self._recheck(connection))
        self._rechecks[connection] = task

    async def _recheck(self, connection: Connection) -> None:
        try:
            await self.recheck_access(connection)
        except Exception as exc:
            logger.error("realtime_access_check_failed", error=type(exc).__name__)
        finally:
            self._rechecks.pop(connection, None)

    async def recheck_access(self, connection: Connection) -> list[int]:
        """End the subscriptions ``connection`` may no longer follow; return their courses."""
        ended: list[int] = []
        async with self.reading() as session:
            user = await service.current_user(session, connection.identity)
            for course_id in sorted(connection.courses):
                if user is not None:
                    try:
                        await chat_service.ensure_participant(session, user, course_id=course_id)
                        continue
                    except CampusError:
                        pass
                ended.append(course_id)
        for course_id in ended:
            if course_id in connection.courses:
                connection.courses.discard(course_id)
                await self.broadcaster.unsubscribe(course_channel(course_id), connection.deliver)
                connection.deliver(
                    _frame("unsubscribed", course_id=course_id, reason="access-ended")
                )
        return ended

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[AsyncSession]:
        db = self.database
        async with (
            db.read_sessionmaker() as session,
            unit_of_work(session, autocommit=db.reads_autocommit),
        ):
            yield session

    @asynccontextmanager
    async def writing(self) -> AsyncIterator[AsyncSession]:
        async with self.database.sessionmaker() as session, unit_of_work(session):
            await session.connection(execution_options=WRITE_TRANSACTION)
            yield session

    async def _check_sessions(self) -> None:
        interval = self.settings.ws_session_check_seconds
        while True:
            await asyncio.sleep(interval)
            if not self.connections:
                continue
            try:
                await self.close_ended_sessions()
            except Exception as exc:
                logger.error("realtime_session_check_failed", error=type(exc).__name__)

    async def close_ended_sessions(self) -> int:
        open_now = [c for c in self.connections if not c.closed]
        ids = {c.identity.session_id for c in open_now}
        async with self.reading() as session:
            live = await service.live_sessions(session, ids)
        ended = [c for c in open_now if c.identity.session_id not in live]
        for connection in ended:
            connection.deliver(error_frame("Your session has ended.", "session-ended"))
            connection.close_soon(CLOSE_POLICY, "session ended")
        return len(ended)


async def _identify(ws: WebSocket, hub: SocketHub) -> SocketIdentity | None:
    origin = ws.headers.get("origin")
    if origin is not None and origin_of(origin) not in hub.origins:
        return None
    ticket = ws.query_params.get("ticket")
    if ticket is not None:
        async with hub.writing() as session:
            return await service.identity_from_ticket(session, ticket)
    cookie = ws.cookies.get(SESSION_COOKIE)
    if cookie and origin is not None:  # a cookie only with a checked Origin (no CSWSH)
        async with hub.reading() as session:
            return await service.identity_from_cookie(session, cookie)
    return None


async def socket(scope: Scope, receive: Receive, send: Send) -> None:
    """JSON frames of API.md §7 (an ASGI app); see the module's docstring."""
    ws = WebSocket(scope, receive=receive, send=send)
    hub: SocketHub = ws.app.state.sockets
    identity = await _identify(ws, hub)
    if identity is None:
        await ws.close(code=CLOSE_POLICY)  # before accept: the handshake gets HTTP 403
        return
    await ws.accept()
    connection = Connection(ws, send, identity, hub.settings)
    await hub.add(connection)
    try:
        await _receive_loop(hub, connection)
    finally:
        await hub.remove(connection)
        connection.closed = True


async def _receive_loop(hub: SocketHub, connection: Connection) -> None:
    settings = hub.settings
    ws = connection.ws
    while True:
        message = await ws.receive()
        if message["type"] == "websocket.disconnect":
            return
        if connection.closed:
            continue
        if not connection.take_token(settings.ws_frames_per_second, settings.ws_frame_burst):
            if connection.strikes == 1:
                connection.deliver(error_frame("Too many frames; slow down.", "rate-limited"))
            elif connection.strikes > settings.ws_frame_burst:
                connection.close_soon(CLOSE_POLICY, "too many frames")
            continue
        text = message.get("text")
        if text is None:
            connection.deliver(error_frame("Send JSON text frames.", "bad-frame"))
            continue
        if len(text) > settings.ws_max_frame_bytes // 4 and (
            len(text.encode("utf-8", "surrogatepass")) > settings.ws_max_frame_bytes
        ):
            connection.deliver(
                error_frame(
                    f"A frame may be at most {settings.ws_max_frame_bytes} bytes.",
                    "frame-too-large",
                )
            )
            continue
        try:
            data = orjson.loads(text)
        except orjson.JSONDecodeError:
            connection.deliver(error_frame("The frame is not valid JSON.", "bad-frame"))
            continue
        try:
            await _handle(hub, connection, data)
        except CampusError as exc:
            connection.deliver(error_frame(exc.detail, exc.code))
        except Exception as exc:
            if database_fault(exc) is not None:  # the database is down or full: retryable
                logger.warning("realtime_frame_db_fault", error=type(exc).__name__)
                connection.deliver(
                    error_frame("The database is unavailable; try again shortly.", "unavailable")
                )
                continue
            logger.exception("realtime_frame_failed")
            connection.deliver(error_frame("Something went wrong.", "internal-error"))


def _course_id(data: dict[str, Any]) -> int | None:
    value = data.get("course_id")
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_ID:
        return None
    return value


class _FrameError(CampusError):
    code = "bad-frame"


async def _live_user(session: AsyncSession, connection: Connection) -> User:
    user = await service.current_user(session, connection.identity)
    if user is None:
        connection.close_soon(CLOSE_POLICY, "session ended")
        raise _FrameError("Your session has ended.", code="session-ended")
    return user


async def _handle(hub: SocketHub, connection: Connection, data: Any) -> None:
    if not isinstance(data, dict) or not isinstance(data.get("type"), str):
        raise _FrameError('A frame is a JSON object with a "type".')
    kind = data["type"]
    if kind == "ping":
        connection.deliver(_frame("pong"))
        return
    if kind not in ("subscribe", "unsubscribe", "chat.send"):
        raise _FrameError(
            f"Unknown frame type {kind[:40]!r}; use subscribe, unsubscribe, chat.send or ping.",
            code="unknown-type",
        )
    course_id = _course_id(data)
    if course_id is None:
        raise _FrameError('"course_id" (a positive integer) is required.', code="missing-field")
    if kind == "unsubscribe":
        if course_id in connection.courses:
            connection.courses.discard(course_id)
            await hub.broadcaster.unsubscribe(course_channel(course_id), connection.deliver)
        connection.deliver(_frame("unsubscribed", course_id=course_id))
        return
    if kind == "subscribe":
        await _subscribe(hub, connection, course_id)
        return
    body = data.get("body")
    if not isinstance(body, str):
        raise _FrameError('"body" (text) is required.', code="missing-field")
    if course_id not in connection.courses:
        raise _FrameError("Subscribe to the course before sending to it.", code="not-subscribed")
    await _send_chat(hub, connection, course_id, body)


async def _subscribe(hub: SocketHub, connection: Connection, course_id: int) -> None:
    if course_id not in connection.courses and len(connection.courses) >= MAX_SUBSCRIPTIONS:
        raise _FrameError(f"A socket follows at most {MAX_SUBSCRIPTIONS} courses.", code="too-many")
    async with hub.reading() as session:
        user = await _live_user(session, connection)
        await chat_service.ensure_participant(session, user, course_id=course_id)
    if course_id not in connection.courses and not connection.closed:
        connection.courses.add(course_id)
        await hub.broadcaster.subscribe(course_channel(course_id), connection.deliver)
    connection.deliver(_frame("subscribed", course_id=course_id))


async def _send_chat(hub: SocketHub, connection: Connection, course_id: int, body: str) -> None:
    try:
        checked = MessageCreate(body=body)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise _FrameError(
            str(first.get("msg", "invalid body")).removeprefix("Value error, "),
            code="validation-error",
        ) from None
    async with hub.writing() as session:
        user = await _live_user(session, connection)
        await chat_service.post_message(session, user, course_id=course_id, body=checked.body)


class _SocketApp:
    """:func:`socket` as an ASGI app, so the route calls it with the server's ``send``."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await socket(scope, receive, send)


#: The socket as a plain Starlette route of an ASGI app: FastAPI's WebSocket route would
#: add dependency solving and exit stacks, and Starlette's for a function a session
#: wrapper and an exception-handler layer around every send, all alive for each socket's
#: whole life (it takes no dependencies and the app has no socket exception handlers).
#: ``campus.main`` mounts it under ``/api/v1``.
route = WebSocketRoute("/ws", _SocketApp(), name="socket")
