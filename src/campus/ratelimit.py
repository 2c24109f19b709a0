"""Rate limits on top of the ``limits`` library, shared by every part of Campus.

One :class:`RateLimiter` per application (``app.state.rate_limiter``): in-process memory by
default, Redis when ``CAMPUS_REDIS_URL`` is set (so every instance shares the counters).
Limits are strings in the library's notation (``"5/15minutes"``); keys are hashed, so no
email address or IP appears in Redis. Exceeding a limit raises ``campus.errors.RateLimited``
(429 with ``Retry-After`` and ``RateLimit-*`` headers).

If the storage is unreachable the limiter fails *open* and logs an error: a Redis outage
must not lock everybody out (``/health`` reports it).
"""

from __future__ import annotations

import hashlib
import math
import time
from functools import lru_cache

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter

from campus.config import Settings
from campus.errors import RateLimited
from campus.log import get_logger

logger = get_logger("campus.ratelimit")


@lru_cache(maxsize=64)
def _parse(limit: str) -> RateLimitItem:
    return parse(limit)


def _digest(part: str) -> str:
    return hashlib.sha256(part.encode("utf-8", "surrogatepass")).hexdigest()[:32]


class RateLimiter:
    def __init__(
        self, *, storage_uri: str | None = None, prefix: str = "campus", enabled: bool = True
    ) -> None:
        self.enabled = enabled
        self.prefix = prefix
        self._storage: Storage
        if storage_uri:
            self._storage = RedisStorage(
                storage_uri, implementation="redispy", key_prefix=prefix, wrap_exceptions=True
            )
        else:
            self._storage = MemoryStorage()
        self._strategy = MovingWindowRateLimiter(self._storage)

    @classmethod
    def from_settings(cls, settings: Settings) -> RateLimiter:
        return cls(
            storage_uri=settings.redis_url,
            prefix=settings.rate_limit_key_prefix,
            enabled=settings.rate_limits_enabled,
        )

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
