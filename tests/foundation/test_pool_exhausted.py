"""Every pooled connection busy past the pool timeout: a retryable 503, not a 500."""

from __future__ import annotations

import httpx
import pytest

from campus.config import Settings
from campus.main import create_app

pytestmark = pytest.mark.postgres_only


async def test_a_saturated_pool_answers_503_with_retry_after(settings: Settings) -> None:
    assert Settings().db_max_overflow == 0  # a fixed pool by default
    app = create_app(
        settings.model_copy(
            update={"db_pool_size": 1, "db_max_overflow": 0, "db_pool_timeout_seconds": 0.2}
        )
    )
    engine = app.state.database.engine
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            async with engine.connect() as held:  # the only connection, taken elsewhere
                await held.exec_driver_sql("SELECT 1")
                busy = await client.get("/api/v1/courses/1")
            after = await client.get("/api/v1/courses/1")
    finally:
        await app.state.database.dispose()
    assert busy.status_code == 503
    assert busy.headers["retry-after"] == "1"
    assert busy.headers["content-type"].startswith("application/problem+json")
    assert busy.json()["type"].endswith("busy")
    assert after.status_code == 404  # the connection is back: the pool serves again
