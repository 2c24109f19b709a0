from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Literal

from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from campus.log import get_logger

logger = get_logger("campus.health")
CheckResult = Literal["ok", "error", "disabled"]


@dataclass(slots=True)
class HealthReport:
    database: CheckResult
    redis: CheckResult
    redis_required: bool = False

    @property
    def healthy(self) -> bool:
        """Ready to serve: the database answers, and Redis too if it is required."""
        return self.database != "error" and not (self.redis_required and self.redis == "error")

    @property
    def degraded(self) -> bool:
        """Serving, without Redis: limits per process, jobs in process, local sockets only."""
        return self.healthy and self.redis == "error"

    @property
    def failing(self) -> list[str]:
        return [name for name in ("database", "redis") if getattr(self, name) == "error"]


async def _ping_database(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))


async def check_health(
    *,
    engine: AsyncEngine,
    redis: Redis | None,
    timeout_seconds: float,
    redis_required: bool = False,
) -> HealthReport:
    """Ping each dependency with a short timeout; never raise."""

    async def run(name: str, probe: asyncio.Future[object] | object) -> CheckResult:
        try:
            await asyncio.wait_for(probe, timeout=timeout_seconds)  # type: ignore[arg-type]
        except Exception as exc:  # any failure of a dependency is a failed check
            logger.warning("health_check_failed", dependency=name, error=type(exc).__name__)
            return "error"
        return "ok"

    database = await run("database", _ping_database(engine))
    redis_result: CheckResult = "disabled"
    if redis is not None:
        redis_result = await run("redis", redis.ping())
    return HealthReport(database=database, redis=redis_result, redis_required=redis_required)
