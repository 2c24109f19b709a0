"""Keyset pagination (``cursor`` / ``next_cursor`` / ``Link: rel="next"``), shared helper."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from campus.config import Settings
from campus.models.accounts import UserRole
from tests.factories import auth_headers, create_course, create_user


async def _walk(
    client: httpx.AsyncClient, url: str, params: dict[str, Any], headers: dict[str, str]
) -> tuple[list[int], list[dict[str, Any]]]:
    """Follow next_cursor from the first page to the last; return ids and every envelope."""
    ids: list[int] = []
    pages: list[dict[str, Any]] = []
    query = dict(params)
    for _ in range(50):
        response = await client.get(url, params=query, headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        pages.append(body)
        ids += [item["id"] for item in body["items"]]
        cursor = body.get("next_cursor")
        if cursor is None:
            assert "link" not in response.headers
            return ids, pages
        link = response.headers["link"]
        assert link.endswith('>; rel="next"')
        assert "cursor=" in link
        query = {**params, "cursor": cursor}
    raise AssertionError("the cursor never ended")


async def test_catalog_cursor_walks_every_sort_like_offsets(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    teacher = await create_user(session, settings, role=UserRole.TEACHER)
    # Repeated titles and prices: ties must be broken by id, in both directions.
    for n in range(7):
        await create_course(session, teacher, title=f"T{n % 3}", price_cents=(n % 2) * 100)
    await create_course(session, teacher, title="Draft", is_published=False)
    for sort in ("-created_at", "title", "-title", "price_cents,-title", "-price_cents,title"):
        offsets = await client.get("/api/v1/courses", params={"sort": sort, "limit": 100})
        expected = [item["id"] for item in offsets.json()["items"]]
        ids, pages = await _walk(client, "/api/v1/courses", {"sort": sort, "limit": 3}, {})
        assert ids == expected, sort
        assert [page["page"] for page in pages] == [1, 2, 3]
        assert all(page["total"] == 7 for page in pages)


async def test_task_cursor_follows_expression_sorts(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    user = await create_user(session, settings)
    headers = await auth_headers(session, settings, user)
    for n in range(5):
        body: dict[str, Any] = {"title": f"task {n % 2}", "priority": ("low", "high")[n % 2]}
        if n % 2:
            body["due_date"] = f"2030-01-0{n}T00:00:00Z"
        created = await client.post("/api/v1/tasks", json=body, headers=headers)
        assert created.status_code == 201, created.text
    for sort in ("-created_at", "due_date", "-priority,title", "title"):
        full = await client.get(
            "/api/v1/tasks", params={"sort": sort, "limit": 100}, headers=headers
        )
        expected = [item["id"] for item in full.json()["items"]]
        ids, _ = await _walk(client, "/api/v1/tasks", {"sort": sort, "limit": 2}, headers)
        assert ids == expected, sort


async def test_bad_cursors_are_422(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    teacher = await create_user(session, settings, role=UserRole.TEACHER)
    for _ in range(3):
        await create_course(session, teacher)
    first = await client.get("/api/v1/courses", params={"limit": 1})
    cursor = first.json()["next_cursor"]
    body, _, signature = cursor.partition(".")
    tampered = body[:-2] + ("AA" if body[-2:] != "AA" else "BB") + "." + signature
    for params in (
        {"cursor": "garbage"},
        {"cursor": tampered},
        {"cursor": body + ".", "limit": 1},
        {"cursor": cursor, "sort": "title"},  # made for another sort
        {"cursor": cursor, "skip": 1},
        {"cursor": "f.\U000e6213\x7f+\x14"},  # non-ASCII signature: was a 500 (schemathesis)
        {"cursor": "é.é"},
    ):
        response = await client.get("/api/v1/courses", params=params)
        assert response.status_code == 422, (params, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
    ok = await client.get("/api/v1/courses", params={"limit": 1, "cursor": cursor})
    assert ok.status_code == 200
    assert ok.json()["page"] == 2


async def test_cursor_is_documented(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    for path in ("/api/v1/courses", "/api/v1/tasks"):
        names = [p["name"] for p in schema["paths"][path]["get"]["parameters"]]
        assert "cursor" in names
    page = schema["components"]["schemas"]["Page_CourseRead_"]
    assert "next_cursor" in page["properties"]
    assert "next_cursor" not in page.get("required", [])
