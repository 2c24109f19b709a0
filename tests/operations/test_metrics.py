"""GET /metrics (API.md §9): request counts and latency by route template, DB pool; token."""

from __future__ import annotations

import re

import httpx

from campus.config import Settings
from campus.main import create_app


def _sample(text: str, name: str, **labels: str) -> float | None:
    for line in text.splitlines():
        if not line.startswith(name + "{"):
            continue
        if all(f'{key}="{value}"' in line for key, value in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return None


async def test_metrics_count_requests_by_route_template(client: httpx.AsyncClient) -> None:
    for course_id in (101, 102, 103):
        await client.get(f"/api/v1/courses/{course_id}")
    await client.get("/no/such/page/4242")
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    count = _sample(
        text,
        "campus_http_requests_total",
        method="GET",
        route="/api/v1/courses/{course_id}",
        status="404",
    )
    assert count is not None
    assert count >= 3
    routes = set(re.findall(r'route="([^"]*)"', text))
    # Raw paths never become labels: only route templates and the unmatched marker.
    assert not any("101" in route or "4242" in route for route in routes), routes
    assert _sample(text, "campus_http_requests_total", route="<unmatched>") is not None
    assert re.search(r"campus_http_request_duration_seconds_bucket\{.*le=\"0.05\"", text)
    assert "campus_db_pool_checked_out" in text or "campus_db_pool" not in text
    overflow = re.search(r"^campus_db_pool_overflow (\S+)$", text, re.MULTILINE)
    assert overflow is None or float(overflow.group(1)) >= 0


async def test_metrics_token(settings: Settings) -> None:
    app = create_app(settings.model_copy(update={"metrics_token": "s3cret-scrape-token"}))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as c:
        missing = await c.get("/metrics")
        wrong = await c.get("/metrics", headers={"Authorization": "Bearer nope"})
        right = await c.get("/metrics", headers={"Authorization": "bearer s3cret-scrape-token"})
    await app.state.database.dispose()
    assert missing.status_code == 401
    assert missing.headers["content-type"].startswith("application/problem+json")
    assert wrong.status_code == 401
    assert right.status_code == 200
    assert "campus_http_requests_total" in right.text
    assert "s3cret" not in right.text


async def test_metrics_hold_no_user_data(client: httpx.AsyncClient) -> None:
    await client.post(
        "/api/v1/auth/login", data={"username": "private@example.com", "password": "x" * 10}
    )
    text = (await client.get("/metrics")).text
    assert "private@example.com" not in text
