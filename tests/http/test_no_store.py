"""Token and account answers are never cached: ``Cache-Control: no-store`` (RFC 6749 §5.1)."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from campus.config import Settings
from campus.models.accounts import UserRole
from tests.factories import DEFAULT_PASSWORD, auth_headers, create_user


def assert_no_store(response: httpx.Response) -> None:
    assert response.status_code < 300, response.text
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["pragma"] == "no-cache"


async def test_token_and_account_responses_are_not_stored(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    user = await create_user(session, settings)
    login = await client.post(
        "/api/v1/auth/login", data={"username": user.email, "password": DEFAULT_PASSWORD}
    )
    assert_no_store(login)
    tokens = login.json()
    refreshed = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    )
    assert_no_store(refreshed)
    bearer = {"Authorization": f"Bearer {refreshed.json()['access_token']}"}
    assert_no_store(await client.get("/api/v1/auth/me", headers=bearer))
    assert_no_store(
        await client.patch("/api/v1/auth/me", json={"full_name": "New Name"}, headers=bearer)
    )
    assert_no_store(await client.post("/api/v1/ws/ticket", headers=bearer))


async def test_admin_user_answers_are_not_stored(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    admin = await create_user(session, settings, role=UserRole.ADMIN)
    headers = await auth_headers(session, settings, admin)
    assert_no_store(await client.get("/api/v1/users", headers=headers))
    assert_no_store(await client.get(f"/api/v1/users/{admin.id}", headers=headers))


async def test_the_public_catalog_stays_cacheable(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/courses")
    assert response.status_code == 200
    assert "no-store" not in response.headers.get("cache-control", "")
