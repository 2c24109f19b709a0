"""The shared Redis client (only when ``CAMPUS_REDIS_URL`` is set)."""

from __future__ import annotations

from redis.asyncio import Redis

from campus.config import Settings


def create_redis(settings: Settings) -> Redis | None:
    if not settings.redis_url:
        return None
    return Redis.from_url(
        settings.redis_url,
        socket_connect_timeout=settings.health_timeout_seconds,
        socket_timeout=5,
        health_check_interval=30,
    )
