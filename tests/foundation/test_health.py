"""API.md §9 health checks, including a really unreachable database."""

from __future__ import annotations

import httpx
import pytest

from campus.config import Settings
from campus.main import create_app
from tests.conftest import REDIS_TEST_URL, service_unavailable


async def test_live(client: httpx.AsyncClient) -> None:
    response = await client.get("/health/live")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_health_ok(client: httpx.AsyncClient) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "redis": "disabled"}


async def test_health_503_when_database_is_unreachable(settings: Settings) -> None:
    broken = settings.model_copy(
        update={
            "database_url": "postgresql+asyncpg://campus@127.0.0.1:9/nowhere",
            "health_timeout_seconds": 1.0,
        }
    )
    app = create_app(broken)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as c:
        response = await c.get("/health")
        live = await c.get("/health/live")
    await app.state.database.dispose()
    assert response.status_code == 503
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == "error"
    assert body["database"] == "error"
    assert "database" in body["detail"]
    assert live.status_code == 200


async def test_health_reports_redis(settings: Settings) -> None:
    import redis.asyncio as aioredis

    probe = aioredis.Redis.from_url(REDIS_TEST_URL)
    try:
        await probe.ping()
    except Exception:
        service_unavailable(f"Redis at {REDIS_TEST_URL} is unreachable")
    finally:
        await probe.aclose()
    app = create_app(settings.model_copy(update={"redis_url": REDIS_TEST_URL}))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as c:
        response = await c.get("/health")
    await app.state.redis.aclose()
    await app.state.database.dispose()
    assert response.json()["redis"] == "ok"


@pytest.mark.parametrize("required", [False, True])
async def test_health_when_redis_is_down(settings: Settings, required: bool) -> None:
    """Redis is not needed to serve: 200 "degraded" unless CAMPUS_REDIS_REQUIRED says so."""
    app = create_app(
        settings.model_copy(
            update={
                "redis_url": "redis://127.0.0.1:9/0",
                "health_timeout_seconds": 1.0,
                "redis_required": required,
            }
        )
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as c:
        response = await c.get("/health")
    await app.state.redis.aclose()
    await app.state.database.dispose()
    assert response.json()["redis"] == "error"
    assert response.json()["database"] == "ok"
    if required:
        assert response.status_code == 503
        assert response.json()["status"] == "error"
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.headers["retry-after"] == "5"
        assert "redis" in response.json()["detail"]
    else:
        assert response.status_code == 200
        assert response.json()["status"] == "degraded"


async def test_by_default_a_configured_redis_that_is_down_fails_health(settings: Settings) -> None:
    """API.md §9: 503 with "status": "error" and the failing part when a dependency is down."""
    defaults = Settings(env="test", database_url=settings.database_url)
    assert defaults.redis_required is True
    app = create_app(
        settings.model_copy(
            update={
                "redis_url": "redis://127.0.0.1:9/0",
                "health_timeout_seconds": 1.0,
                "redis_required": defaults.redis_required,
            }
        )
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as c:
        response = await c.get("/health")
    await app.state.redis.aclose()
    await app.state.database.dispose()
    assert response.status_code == 503
    assert response.json()["status"] == "error"
    assert response.json()["redis"] == "error"
