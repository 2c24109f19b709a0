"""PATCH /auth/me: name, password change with current_password, other sessions end."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from campus.config import Settings
from tests.accounts.conftest import bearer, login
from tests.factories import DEFAULT_PASSWORD, create_user

ME = "/api/v1/auth/me"
NEW = "a-brand-new-passphrase"


async def _two_sessions(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> tuple[str, dict[str, object], dict[str, object]]:
    user = await create_user(session, settings)
    first = (await login(client, user.email, DEFAULT_PASSWORD)).json()
    second = (await login(client, user.email, DEFAULT_PASSWORD)).json()
    return user.email, first, second


async def test_change_full_name(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    _email, tokens, _ = await _two_sessions(client, session, settings)
    response = await client.patch(ME, json={"full_name": "  Grace Hopper "}, headers=bearer(tokens))
    assert response.status_code == 200, response.text
    assert response.json()["full_name"] == "Grace Hopper"
    assert (await client.get(ME, headers=bearer(tokens))).json()["full_name"] == "Grace Hopper"


async def test_password_change_ends_other_sessions_only(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    email, mine, other = await _two_sessions(client, session, settings)
    response = await client.patch(
        ME, json={"password": NEW, "current_password": DEFAULT_PASSWORD}, headers=bearer(mine)
    )
    assert response.status_code == 200, response.text
    assert NEW not in response.text
    # the session that made the change stays; the other one ends (access and refresh)
    assert (await client.get(ME, headers=bearer(mine))).status_code == 200
    assert (
        await client.post("/api/v1/auth/refresh", json={"refresh_token": mine["refresh_token"]})
    ).status_code == 200
    assert (await client.get(ME, headers=bearer(other))).status_code == 401
    assert (
        await client.post("/api/v1/auth/refresh", json={"refresh_token": other["refresh_token"]})
    ).status_code == 401
    assert (await login(client, email, DEFAULT_PASSWORD)).status_code == 401
    assert (await login(client, email, NEW)).status_code == 200


async def test_password_change_needs_current_password(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    email, mine, other = await _two_sessions(client, session, settings)
    missing = await client.patch(ME, json={"password": NEW}, headers=bearer(mine))
    assert missing.status_code == 422
    assert missing.json()["errors"][0]["loc"] == ["body", "current_password"]
    wrong = await client.patch(
        ME, json={"password": NEW, "current_password": "not-my-password"}, headers=bearer(mine)
    )
    assert wrong.status_code == 403
    assert "not-my-password" not in wrong.text
    # nothing changed, nobody was signed out
    assert (await client.get(ME, headers=bearer(other))).status_code == 200
    assert (await login(client, email, DEFAULT_PASSWORD)).status_code == 200


async def test_new_password_follows_the_policy(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    email, mine, _ = await _two_sessions(client, session, settings)
    for bad, why in [("Sh0rt!", "at least 8"), ("password123", "too common"), (email, "email")]:
        response = await client.patch(
            ME, json={"password": bad, "current_password": DEFAULT_PASSWORD}, headers=bearer(mine)
        )
        assert response.status_code == 422, response.text
        assert why in response.json()["errors"][0]["msg"]
        assert response.json()["errors"][0]["loc"] == ["body", "password"]
        assert bad not in response.text


async def test_bad_me_updates(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    _email, mine, _ = await _two_sessions(client, session, settings)
    for body in [
        {"full_name": None},
        {"full_name": ""},
        {"full_name": "x" * 101},
        {"password": None, "current_password": DEFAULT_PASSWORD},
        {"email": "new@example.com"},
        {"role": "admin"},
        {"is_verified": True},
    ]:
        response = await client.patch(ME, json=body, headers=bearer(mine))
        assert response.status_code == 422, (body, response.text)
    me = (await client.get(ME, headers=bearer(mine))).json()
    assert me["role"] == "student"


async def test_anonymous_cannot_patch_me(client: httpx.AsyncClient) -> None:
    response = await client.patch(ME, json={"full_name": "Nobody"})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


async def test_mail_preferences_are_off_until_opted_in(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    _email, tokens, _ = await _two_sessions(client, session, settings)
    me = (await client.get(ME, headers=bearer(tokens))).json()
    assert (me["reminder_emails"], me["digest_emails"]) == (False, False)
    response = await client.patch(ME, json={"reminder_emails": True}, headers=bearer(tokens))
    assert response.status_code == 200, response.text
    assert (response.json()["reminder_emails"], response.json()["digest_emails"]) == (True, False)
    response = await client.patch(
        ME, json={"digest_emails": True, "reminder_emails": False}, headers=bearer(tokens)
    )
    me = (await client.get(ME, headers=bearer(tokens))).json()
    assert (me["reminder_emails"], me["digest_emails"]) == (False, True)
    for bad in ({"digest_emails": None}, {"reminder_emails": "maybe"}, {"digest_emails": [1]}):
        refused = await client.patch(ME, json=bad, headers=bearer(tokens))
        assert refused.status_code == 422, bad
