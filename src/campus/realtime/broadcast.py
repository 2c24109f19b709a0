"""Fan-out of real-time frames to the sockets of every instance.

A *channel* names who listens: ``course:<id>`` (the sockets subscribed to a course's chat)
and ``user:<id>`` (every socket of a user: notifications). A *frame* is the JSON text a
socket receives, serialised once per publish, not once per socket.

- :class:`MemoryBroadcaster` (the default): delivers to the listeners of this process.
- :class:`RedisBroadcaster` (``CAMPUS_REDIS_URL``): ``PUBLISH`` to Redis; every instance
  ``SUBSCRIBE``\\ s to the channels its own sockets listen to and delivers what arrives.
  Any instance can serve any socket, so no sticky sessions are needed.

Services never publish inside a unit of work: :func:`publish_after_commit` hands the frames
to the broadcaster once the unit of work has committed (``campus.kit.aftercommit``), so a
frame never announces something that was rolled back. The broadcaster is found through the
session (``session.info``, set on the sessionmakers by :func:`attach`).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession

from campus.config import Settings
from campus.db import Database
from campus.kit.aftercommit import after_commit
from campus.log import get_logger

logger = get_logger("campus.realtime")

SESSION_INFO_KEY = "campus.broadcaster"
Listener = Callable[[str], None]
# A publish not done within this falls back to this instance's sockets (a Redis answering
# that slowly is as good as down for live frames).
PUBLISH_TIMEOUT = 1.0
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0, 2.5)


def course_channel(course_id: int) -> str:
    return f"course:{course_id}"


def user_channel(user_id: int) -> str:
    return f"user:{user_id}"


class RealtimeMetrics:
    """The real-time metrics of one application (names agreed across Campus)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.connections = Gauge(
            "campus_ws_connections", "Open WebSocket connections.", registry=registry
        )
        self.chat_messages = Counter(
            "campus_chat_messages", "Chat messages stored and broadcast.", registry=registry
        )
        self.notifications = Counter(
            "campus_notifications_created",
            "Notifications created, by kind.",
            ["kind"],
            registry=registry,
        )
        self.latency = Histogram(
            "campus_broadcast_latency_seconds",
            "From publishing a frame to handing it to this instance's sockets.",
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )


class Broadcaster(ABC):
    """Listeners of this process by channel; subclasses carry frames between instances."""

    def __init__(self, metrics: RealtimeMetrics | None = None) -> None:
        self.metrics = metrics
        self._listeners: dict[str, set[Listener]] = {}
        self._in_flight: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        await self.wait_for_in_flight(within=5)

    # -- listening -----------------------------------------------------------------------

    async def subscribe(self, channel: str, listener: Listener) -> None:
        listeners = self._listeners.setdefault(channel, set())
        first = not listeners
        listeners.add(listener)
        if first:
            await self._channel_opened(channel)

    async def unsubscribe(self, channel: str, listener: Listener) -> None:
        listeners = self._listeners.get(channel)
        if not listeners or listener not in listeners:
            return
        listeners.discard(listener)
        if not listeners:
            del self._listeners[channel]
            await self._channel_closed(channel)

    def listener_count(self, channel: str) -> int:
        return len(self._listeners.get(channel, ()))

    async def _channel_opened(self, channel: str) -> None:
        return None

    async def _channel_closed(self, channel: str) -> None:
        return None

    def _dispatch(self, channel: str, frame: str, sent_at: float) -> None:
        if self.metrics is not None:
            self.metrics.latency.observe(max(0.0, time.time() - sent_at))
        for listener in tuple(self._listeners.get(channel, ())):
            try:
                listener(frame)
            except Exception:
                logger.exception("realtime_listener_failed", channel=channel)

    # -- publishing ----------------------------------------------------------------------

    @abstractmethod
    async def publish(self, items: Sequence[tuple[str, str]]) -> None:
        """Deliver each ``(channel, frame)`` to its listeners on every instance."""

    def publish_soon(self, items: Sequence[tuple[str, str]]) -> None:
        """Hand ``items`` to a background task (after-commit callbacks are synchronous)."""
        if not items:
            return
        task = asyncio.get_running_loop().create_task(self._publish_logged(items))
        self._in_flight.add(task)
        task.add_done_callback(self._in_flight.discard)

    async def _publish_logged(self, items: Sequence[tuple[str, str]]) -> None:
        try:
            await self.publish(items)
        except Exception as exc:
            logger.error("realtime_publish_failed", error=type(exc).__name__, frames=len(items))

    async def wait_for_in_flight(self, within: float | None = None) -> None:
        pending = set(self._in_flight)
        if pending:
            await asyncio.wait(pending, timeout=within)


class MemoryBroadcaster(Broadcaster):
    """One process: a publish reaches this process's listeners only."""

    async def publish(self, items: Sequence[tuple[str, str]]) -> None:
        now = time.time()
        for channel, frame in items:
            self._dispatch(channel, frame, now)


class RedisBroadcaster(Broadcaster):
    """Redis pub/sub between instances (redis-py asyncio).

    One pub/sub connection per instance, subscribed to exactly the channels its sockets
    listen to (plus a private control channel, so it is never idle). A message on Redis is
    ``"<unix time> <frame>"``; the time feeds ``campus_broadcast_latency_seconds``. When
    Redis drops, redis-py reconnects and subscribes again; frames published meanwhile are
    lost for the other instances (pub/sub keeps nothing; the clients cover it by reloading
    history on reconnect), while this instance delivers its own publishes to its own
    sockets directly.
    """

    def __init__(
        self, redis: Redis, *, prefix: str, metrics: RealtimeMetrics | None = None
    ) -> None:
        super().__init__(metrics)
        self.redis = redis
        self.prefix = f"{prefix}:rt:"
        self._pubsub = redis.pubsub(ignore_subscribe_messages=True)
        self._control = f"{self.prefix}_instance:{uuid.uuid4().hex}"
        self._reader: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    async def start(self) -> None:
        await self._pubsub.subscribe(self._control)
        self._reader = asyncio.get_running_loop().create_task(self._read())

    async def stop(self) -> None:
        await super().stop()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
        with contextlib.suppress(Exception):
            await self._pubsub.aclose()  # type: ignore[no-untyped-call]

    async def _channel_opened(self, channel: str) -> None:
        async with self._lock:
            if self.listener_count(channel):
                await self._pubsub.subscribe(self.prefix + channel)

    async def _channel_closed(self, channel: str) -> None:
        async with self._lock:
            if not self.listener_count(channel):
                await self._pubsub.unsubscribe(self.prefix + channel)

    async def publish(self, items: Sequence[tuple[str, str]]) -> None:
        try:
            # redis-py retries a failed command with backoff (seconds in all): this
            # instance's sockets should not wait for that when Redis is gone.
            await asyncio.wait_for(self._publish_to_redis(items), timeout=PUBLISH_TIMEOUT)
        except Exception as exc:
            # Redis is down: this instance's own sockets still get the frames; sockets on
            # other instances miss them (their clients reload the history on reconnect).
            logger.warning(
                "realtime_redis_publish_failed",
                error=type(exc).__name__,
                frames=len(items),
                hint="delivered to this instance's sockets only",
            )
            now = time.time()
            for channel, frame in items:
                self._dispatch(channel, frame, now)

    async def _publish_to_redis(self, items: Sequence[tuple[str, str]]) -> None:
        stamp = f"{time.time():.6f} "
        if len(items) == 1:
            channel, frame = items[0]
            await self.redis.publish(self.prefix + channel, stamp + frame)
            return
        async with self.redis.pipeline(transaction=False) as pipe:
            for channel, frame in items:
                pipe.publish(self.prefix + channel, stamp + frame)
            await pipe.execute()

    async def _read(self) -> None:
        backoff = 0.1
        while True:
            try:
                message = await self._pubsub.get_message(
                    ignore_subscribe_messages=True, timeout=1.0
                )
                backoff = 0.1
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                logger.error("realtime_redis_read_failed", error=type(exc).__name__)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            if message is None or message.get("type") != "message":
                continue
            self._deliver(message)

    def _deliver(self, message: dict[str, Any]) -> None:
        channel = message["channel"]
        data = message["data"]
        if isinstance(channel, bytes):
            channel = channel.decode()
        if isinstance(data, bytes):
            data = data.decode("utf-8", "replace")
        if not channel.startswith(self.prefix):
            return
        stamp, _, frame = data.partition(" ")
        try:
            sent_at = float(stamp)
        except ValueError:
            return
        self._dispatch(channel[len(self.prefix) :], frame, sent_at)


def create_broadcaster(settings: Settings, registry: CollectorRegistry | None) -> Broadcaster:
    metrics = RealtimeMetrics(registry) if registry is not None else None
    if settings.redis_url:
        redis = Redis.from_url(
            settings.redis_url,
            socket_connect_timeout=settings.health_timeout_seconds,
            health_check_interval=30,
        )
        return RedisBroadcaster(redis, prefix=settings.realtime_channel_prefix, metrics=metrics)
    return MemoryBroadcaster(metrics)


def attach(database: Database, broadcaster: Broadcaster) -> None:
    """Make ``broadcaster`` reachable from every session of ``database`` (``session.info``).

    The app does this for itself; a process that runs units of work outside the app (a job
    worker) calls it with a broadcaster of its own so its notifications go out live too.
    """
    for maker in {id(m): m for m in (database.sessionmaker, database.read_sessionmaker)}.values():
        info = dict(maker.kw.get("info") or {})
        info[SESSION_INFO_KEY] = broadcaster
        maker.configure(info=info)


def broadcaster_of(session: AsyncSession) -> Broadcaster | None:
    found = session.info.get(SESSION_INFO_KEY)
    return found if isinstance(found, Broadcaster) else None


#: An internal frame, never sent to a client: "who may follow what changed here". A socket
#: that receives it on its user's channel (an enrollment ended, a role changed) or on a
#: course channel (the course was deleted or unpublished) checks its course subscriptions
#: again with the same rule as ``subscribe`` and ends those it may no longer follow.
ACCESS_CHANGED = "\x00access-changed"


def access_changed_after_commit(
    session: AsyncSession, *, user_ids: Iterable[int] = (), course_ids: Iterable[int] = ()
) -> None:
    """Tell the sockets of ``user_ids`` / following ``course_ids`` to check their access."""
    publish_after_commit(
        session,
        [(user_channel(u), ACCESS_CHANGED) for u in user_ids]
        + [(course_channel(c), ACCESS_CHANGED) for c in course_ids],
    )


def publish_after_commit(
    session: AsyncSession,
    items: Iterable[tuple[str, str]],
    *,
    on_published: Callable[[Broadcaster], None] | None = None,
) -> None:
    """Publish ``(channel, frame)`` pairs once the session's unit of work has committed.

    Without a broadcaster on the session (a unit of work outside any app, e.g. a script)
    nothing is sent live; what was stored is still there for the lists.
    """
    frames = list(items)
    broadcaster = broadcaster_of(session)
    if broadcaster is None:
        return

    def hand_off() -> None:
        if on_published is not None:
            on_published(broadcaster)
        broadcaster.publish_soon(frames)

    after_commit(session, hand_off)


def broadcaster_of_database(database: Database) -> Broadcaster | None:
    """The broadcaster :func:`attach`\\ ed to ``database`` (for Core writes outside a session)."""
    found = (database.sessionmaker.kw.get("info") or {}).get(SESSION_INFO_KEY)
    return found if isinstance(found, Broadcaster) else None
