"""Rate limits on top of the ``limits`` library, shared by every part of Campus.

One :class:`RateLimiter` per application (``app.state.rate_limiter``): in-process memory by
default, Redis when ``CAMPUS_REDIS_URL`` is set (so every instance shares the counters).
Limits are strings in the library's notation (``"5/15minutes"``); keys are hashed, so no
email address or IP appears in Redis. Exceeding a limit raises ``campus.errors.RateLimited``
(429 with ``Retry-After`` and ``RateLimit-*`` headers).

If Redis is unreachable the limits fall back to this process's memory (logged once per
outage as a warning, counted in ``campus_ratelimit_fallback_total``, and
``campus_ratelimit_degraded`` is 1 meanwhile): the limits still hold, per process instead of
shared, and Redis is tried again every few seconds; its counters are used again as soon as
it answers. A Redis outage never locks anybody out, nor lets a flood through unlimited.
Only if the memory store itself failed would a limit fail *open* (logged as an error).

Sign-in failures are *reserved* (:meth:`RateLimiter.reserve`): the attempt takes a place in
the window atomically before the password is checked, and gives it back
(:meth:`RateLimiter.release`) only when the password was right. So N guesses sent at once
check at most the limit's worth of passwords; the rest are 429 before any verify. The
ledger is in memory, or a sorted set per key in Redis updated by one Lua script; when
Redis is unreachable reservations fall back to this process's memory (never fail open:
these limits guard passwords).
"""

from __future__ import annotations

import hashlib
import math
import secrets
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, TypeVar

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, MovingWindowSupport, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from prometheus_client import CollectorRegistry, Counter, Gauge
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from campus.config import Settings
from campus.errors import RateLimited
from campus.log import get_logger

logger = get_logger("campus.ratelimit")
T = TypeVar("T")
# After Redis failed, how long the limits stay in memory before Redis is tried again.
REDIS_RETRY_SECONDS = 2.0


class FallbackStorage(Storage, MovingWindowSupport):
    """Redis while it answers, this process's memory while it does not.

    Every operation goes to ``primary``; when it raises, the same operation is served by
    ``fallback`` and ``primary`` is left alone for ``retry_seconds`` (so an outage costs
    one failed round trip every few seconds, not one per request).
    """

    STORAGE_SCHEME = None

    def __init__(
        self,
        primary: RedisStorage,
        *,
        fallback: MemoryStorage | None = None,
        retry_seconds: float = REDIS_RETRY_SECONDS,
        registry: CollectorRegistry | None = None,
    ) -> None:
        super().__init__()
        self.primary = primary
        self.fallback = fallback or MemoryStorage()
        self.retry_seconds = retry_seconds
        self._down_until = 0.0
        self._probing = False
        self.degraded = False
        self.fallbacks = Counter(
            "campus_ratelimit_fallback",
            "Rate-limit operations served from process memory because Redis failed.",
            registry=registry,
        )
        self.degraded_gauge = Gauge(
            "campus_ratelimit_degraded",
            "1 while rate limits are kept in process memory because Redis is unreachable.",
            registry=registry,
        )

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        return ()

    async def _call(self, operation: Callable[[Storage], Awaitable[T]]) -> T:
        # While degraded, one operation at a time probes Redis once the retry time has
        # come; the others are served from memory meanwhile, so a Redis that hangs costs
        # no request more than one timeout.
        probe = self.degraded and not self._probing and time.monotonic() >= self._down_until
        if not self.degraded or probe:
            self._probing = probe
            try:
                result = await operation(self.primary)
            except Exception as exc:
                self._down_until = time.monotonic() + self.retry_seconds
                self._probing = False
                if not self.degraded:
                    self.degraded = True
                    self.degraded_gauge.set(1)
                    logger.warning(
                        "ratelimit_redis_unavailable",
                        error=f"{type(exc).__name__}: {exc}"[:300],
                        hint="rate limits are kept in this process's memory until Redis is back",
                    )
            else:
                self._probing = False
                if self.degraded:
                    self.degraded = False
                    self.degraded_gauge.set(0)
                    logger.warning("ratelimit_redis_recovered")
                return result
        self.fallbacks.inc()
        return await operation(self.fallback)

    async def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        return await self._call(lambda s: s.incr(key, expiry, amount))

    async def get(self, key: str) -> int:
        return await self._call(lambda s: s.get(key))

    async def get_expiry(self, key: str) -> float:
        return await self._call(lambda s: s.get_expiry(key))

    async def check(self) -> bool:
        return await self._call(lambda s: s.check())

    async def reset(self) -> int | None:
        return await self._call(lambda s: s.reset())

    async def clear(self, key: str) -> None:
        await self._call(lambda s: s.clear(key))

    async def acquire_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        return await self._call(lambda s: _moving(s).acquire_entry(key, limit, expiry, amount))

    async def get_moving_window(self, key: str, limit: int, expiry: int) -> tuple[float, int]:
        return await self._call(lambda s: _moving(s).get_moving_window(key, limit, expiry))


def _moving(storage: Storage) -> Any:
    assert isinstance(storage, MovingWindowSupport)
    return storage


@lru_cache(maxsize=64)
def _parse(limit: str) -> RateLimitItem:
    return parse(limit)


def _digest(part: str) -> str:
    return hashlib.sha256(part.encode("utf-8", "surrogatepass")).hexdigest()[:32]


@dataclass(frozen=True)
class Reservation:
    """A place taken in a limit's window; give it back with :meth:`RateLimiter.release`."""

    limit: str
    key: str  # the ledger key (prefix, scope and digest)
    token: str
    in_memory: bool


@dataclass
class _MemoryLedger:
    """Reservations per key in this process: (expiry, token) in arrival order. Each method
    runs without awaiting, so on one event loop it is atomic."""

    entries: dict[str, deque[tuple[float, str]]] = field(default_factory=dict)

    def reserve(self, key: str, amount: int, expiry: float, token: str) -> float | None:
        """Take a place; ``None`` when taken, else the seconds until one frees up."""
        now = time.monotonic()
        queue = self.entries.setdefault(key, deque())
        while queue and queue[0][0] <= now:
            queue.popleft()
        if len(queue) >= amount:
            return max(queue[0][0] - now, 0.0)
        queue.append((now + expiry, token))
        return None

    def release(self, key: str, token: str) -> None:
        queue = self.entries.get(key)
        if not queue:
            return
        for index, (_, held) in enumerate(queue):
            if held == token:
                del queue[index]
                break
        if not queue:
            del self.entries[key]


# KEYS[1] the sorted set; ARGV: now (ms), window (ms), amount, token. Returns 0 when the
# place was taken, else the milliseconds until the oldest reservation leaves the window.
_RESERVE_SCRIPT = """
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return math.max(1, tonumber(oldest[2]) + window - now)
end
redis.call('ZADD', KEYS[1], now, ARGV[4])
redis.call('PEXPIRE', KEYS[1], window)
return 0
"""


class RateLimiter:
    def __init__(
        self,
        *,
        storage_uri: str | None = None,
        prefix: str = "campus",
        enabled: bool = True,
        timeout_seconds: float = 2.0,
        registry: CollectorRegistry | None = None,
    ) -> None:
        self.enabled = enabled
        self.prefix = prefix
        self._storage: Storage
        if storage_uri:
            redis = RedisStorage(
                storage_uri,
                implementation="redispy",
                key_prefix=prefix,
                wrap_exceptions=True,
                socket_connect_timeout=timeout_seconds,
                socket_timeout=timeout_seconds,
                # No retries with backoff inside redis-py (by default three, about 4 s in
                # all): a failed operation falls back to memory at once instead.
                retry=Retry(NoBackoff(), 0),  # type: ignore[arg-type]
            )
            self._storage = FallbackStorage(redis, registry=registry)
        else:
            self._storage = MemoryStorage()
        self._strategy = MovingWindowRateLimiter(self._storage)
        self._ledger = _MemoryLedger()
        self._redis: Redis | None = None
        if storage_uri:
            # Reservations guard passwords: no retries inside redis-py either (a failed
            # script falls back to this process's ledger at once).
            self._redis = Redis.from_url(
                storage_uri,
                socket_connect_timeout=1,
                socket_timeout=2,
                retry=Retry(NoBackoff(), 0),
            )
            self._reserve_script = self._redis.register_script(_RESERVE_SCRIPT)

    @classmethod
    def from_settings(
        cls, settings: Settings, *, registry: CollectorRegistry | None = None
    ) -> RateLimiter:
        return cls(
            storage_uri=settings.redis_url,
            prefix=settings.rate_limit_key_prefix,
            enabled=settings.rate_limits_enabled,
            timeout_seconds=settings.health_timeout_seconds,
            registry=registry,
        )

    @property
    def degraded(self) -> bool:
        """True while Redis is unreachable and the limits are kept in this process."""
        return isinstance(self._storage, FallbackStorage) and self._storage.degraded

    def _identifiers(self, scope: str, key: str) -> tuple[str, str, str]:
        return (self.prefix, scope, _digest(key))

    async def _exceeded(self, item: RateLimitItem, ids: tuple[str, ...]) -> RateLimited:
        try:
            stats = await self._strategy.get_window_stats(item, *ids)
            reset_at = stats.reset_time
        except Exception:
            reset_at = time.time() + item.get_expiry()
        retry_after = max(1, math.ceil(reset_at - time.time()))
        return RateLimited(
            "Too many attempts; try again later.",
            retry_after=retry_after,
            headers={
                "RateLimit-Limit": str(item.amount),
                "RateLimit-Remaining": "0",
                "RateLimit-Reset": str(retry_after),
            },
        )

    async def hit(self, limit: str, scope: str, key: str) -> None:
        """Count one event for ``key``; raise ``RateLimited`` when the limit is exceeded."""
        if not self.enabled:
            return
        item = _parse(limit)
        ids = self._identifiers(scope, key)
        try:
            allowed = await self._strategy.hit(item, *ids)
        except Exception as exc:
            logger.error("ratelimit_storage_unavailable", error=type(exc).__name__)
            return
        if not allowed:
            raise await self._exceeded(item, ids)

    async def check(self, limit: str, scope: str, key: str) -> None:
        """Raise ``RateLimited`` if ``key`` has used up ``limit``, without counting an event."""
        if not self.enabled:
            return
        item = _parse(limit)
        ids = self._identifiers(scope, key)
        try:
            allowed = await self._strategy.test(item, *ids)
        except Exception as exc:
            logger.error("ratelimit_storage_unavailable", error=type(exc).__name__)
            return
        if not allowed:
            raise await self._exceeded(item, ids)

    async def count(self, limit: str, scope: str, key: str) -> None:
        """Count one event for ``key`` without ever raising (e.g. a failed sign-in)."""
        if not self.enabled:
            return
        try:
            await self._strategy.hit(_parse(limit), *self._identifiers(scope, key))
        except Exception as exc:
            logger.error("ratelimit_storage_unavailable", error=type(exc).__name__)

    async def reserve(self, limit: str, scope: str, key: str) -> Reservation | None:
        """Take one place in ``limit`` for ``key`` atomically, or raise ``RateLimited``.

        For attempts that are judged afterwards (a password check): keep the place when the
        attempt failed, :meth:`release` it when it succeeded. ``None`` when limits are off.
        """
        if not self.enabled:
            return None
        item = _parse(limit)
        ledger_key = ":".join((*self._identifiers(scope, key), "reserved"))
        token = secrets.token_hex(8)
        expiry = float(item.get_expiry())
        if self._redis is not None:
            try:
                wait_ms = await self._reserve_script(
                    keys=[ledger_key],
                    args=[int(time.time() * 1000), int(expiry * 1000), item.amount, token],
                )
            except Exception as exc:
                logger.warning("ratelimit_reserve_in_memory", error=type(exc).__name__)
            else:
                if int(wait_ms) > 0:
                    raise self._limited(item, int(wait_ms) / 1000)
                return Reservation(limit, ledger_key, token, in_memory=False)
        wait = self._ledger.reserve(ledger_key, item.amount, expiry, token)
        if wait is not None:
            raise self._limited(item, wait)
        return Reservation(limit, ledger_key, token, in_memory=True)

    async def release(self, reservation: Reservation | None) -> None:
        """Give back a place taken by :meth:`reserve` (the attempt succeeded)."""
        if reservation is None:
            return
        if reservation.in_memory or self._redis is None:
            self._ledger.release(reservation.key, reservation.token)
            return
        try:
            await self._redis.zrem(reservation.key, reservation.token)
        except Exception as exc:
            logger.error("ratelimit_storage_unavailable", error=type(exc).__name__)

    @staticmethod
    def _limited(item: RateLimitItem, wait_seconds: float) -> RateLimited:
        retry_after = max(1, math.ceil(wait_seconds))
        return RateLimited(
            "Too many attempts; try again later.",
            retry_after=retry_after,
            headers={
                "RateLimit-Limit": str(item.amount),
                "RateLimit-Remaining": "0",
                "RateLimit-Reset": str(retry_after),
            },
        )

    async def aclose(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()

    async def clear(self, limit: str, scope: str, key: str) -> None:
        await self._strategy.clear(_parse(limit), *self._identifiers(scope, key))

    async def allow(self, limit: str, scope: str, key: str) -> bool:
        """Count one event for ``key`` and say whether it was within ``limit`` (never raises)."""
        if not self.enabled:
            return True
        try:
            return bool(await self._strategy.hit(_parse(limit), *self._identifiers(scope, key)))
        except Exception as exc:
            logger.error("ratelimit_storage_unavailable", error=type(exc).__name__)
            return True
