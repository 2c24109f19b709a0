"""How many statements creating a task sends (issue 20, "Writes too"), so a regression shows."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from campus.config import Settings
from tests.factories import auth_headers, create_user
from tests.sqlcount import request_costs


async def test_create_task_is_one_statement(
    client: httpx.AsyncClient, session: AsyncSession, engine: AsyncEngine, settings: Settings
) -> None:
    student = await create_user(session, settings)
    headers = await auth_headers(session, settings, student)
    body = {"title": "Read chapter Ünf", "description": "Twice", "status": "completed"}
    response, statements, savepoints, queries = await request_costs(
        client, engine, headers, "POST", "/api/v1/tasks", json=body
    )
    assert response.status_code == 201, response.text
    assert (statements, savepoints) == (1, 0), queries
    task = response.json()
    assert task["owner_id"] == student.id
    assert task["is_completed"] is True
    assert task["completed_at"] is not None
    assert (task["priority"], task["due_date"], task["lesson_id"]) == ("medium", None, None)
    # the search document is filled as the ORM's events fill it: case-insensitive search
    found = await client.get("/api/v1/tasks", params={"q": "ünf"}, headers=headers)
    assert [t["id"] for t in found.json()["items"]] == [task["id"]]
