"""Core of §2: register, login, me, refresh rotation, logout, token attacks."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import httpx
import jwt
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from campus.accounts.tokens import encode_token
from campus.config import Settings
from tests.factories import DEFAULT_PASSWORD, auth_headers, create_user


async def _login(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await client.post("/api/v1/auth/login", data={"username": email, "password": password})


async def test_register_login_me(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/auth/register",
        json={"email": "  Ada@Example.COM ", "password": "a-long-passphrase", "full_name": "Ada"},
    )
    assert response.status_code == 201, response.text
    user = response.json()
    assert user["email"] == "ada@example.com"
    assert user["role"] == "student"
    assert "password" not in json.dumps(user)
    assert "hash" not in json.dumps(user)

    dup = await client.post(
        "/api/v1/auth/register",
        json={"email": "ADA@example.com", "password": "another-passphrase", "full_name": "A"},
    )
    assert dup.status_code == 409

    login = await _login(client, "ADA@example.com", "a-long-passphrase")
    assert login.status_code == 200, login.text
    tokens = login.json()
    assert tokens["token_type"] == "bearer"
    assert tokens["expires_in"] == 1800
    me = await client.get(
        "/api/v1/auth/me", headers={"Authorization": f"bearer {tokens['access_token']}"}
    )
    assert me.status_code == 200
    assert me.json()["email"] == "ada@example.com"


async def test_wrong_password_and_unknown_email_look_the_same(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    user = await create_user(session, settings)
    wrong = await _login(client, user.email, "not-the-password")
    unknown = await _login(client, "nobody@example.test", "not-the-password")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["detail"] == unknown.json()["detail"]
    assert wrong.headers["www-authenticate"] == "Bearer"


async def test_disabled_account(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    user = await create_user(session, settings, is_active=False)
    assert (await _login(client, user.email, DEFAULT_PASSWORD)).status_code == 403
    assert (await _login(client, user.email, "wrong-password")).status_code == 401


async def test_login_with_json_body_is_422(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/auth/login", json={"username": "a@b.test", "password": "x" * 10}
    )
    assert response.status_code == 422


async def test_me_requires_a_token(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/auth/me")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


async def test_refresh_rotates_and_reuse_revokes_the_session(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    user = await create_user(session, settings)
    first = (await _login(client, user.email, DEFAULT_PASSWORD)).json()
    second = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}
    )
    assert second.status_code == 200
    pair = second.json()
    assert pair["refresh_token"] != first["refresh_token"]
    # the old one is dead, and presenting it ends the whole session
    reuse = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}
    )
    assert reuse.status_code == 401
    after = await client.post("/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert after.status_code == 401
    me = await client.get(
        "/api/v1/auth/me", headers={"Authorization": f"Bearer {pair['access_token']}"}
    )
    assert me.status_code == 401


async def test_logout_ends_access_and_refresh(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    user = await create_user(session, settings)
    tokens = (await _login(client, user.email, DEFAULT_PASSWORD)).json()
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    out = await client.post(
        "/api/v1/auth/logout", json={"refresh_token": tokens["refresh_token"]}, headers=headers
    )
    assert out.status_code == 204
    assert (await client.get("/api/v1/auth/me", headers=headers)).status_code == 401
    again = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    )
    assert again.status_code == 401


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


@pytest.mark.parametrize(
    "attack",
    ["garbage", "alg_none", "other_key", "other_alg", "expired", "refresh_as_access", "no_sid"],
)
async def test_token_attacks_are_401(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, attack: str
) -> None:
    user = await create_user(session, settings)
    headers = await auth_headers(session, settings, user)
    good = headers["Authorization"].split()[1]
    claims = jwt.decode(good, options={"verify_signature": False})
    if attack == "garbage":
        token = "not.a.jwt"
    elif attack == "alg_none":
        token = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}."
    elif attack == "other_key":
        token = jwt.encode(claims, "another-key-another-key-another-key!", algorithm="HS256")
    elif attack == "other_alg":
        token = jwt.encode(claims, settings.secret_key, algorithm="HS512")
    elif attack == "expired":
        token = encode_token(
            settings,
            user_id=user.id,
            session_id=claims["sid"],
            type_="access",
            lifetime=timedelta(seconds=-10),
        )
    elif attack == "refresh_as_access":
        token = jwt.encode({**claims, "type": "refresh"}, settings.secret_key, algorithm="HS256")
    else:
        token = jwt.encode(
            {k: v for k, v in claims.items() if k != "sid"}, settings.secret_key, algorithm="HS256"
        )
    response = await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    ok = await client.get("/api/v1/auth/me", headers=headers)
    assert ok.status_code == 200


async def test_token_in_query_string_is_not_accepted(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    user = await create_user(session, settings)
    token = (await auth_headers(session, settings, user))["Authorization"].split()[1]
    response = await client.get("/api/v1/auth/me", params={"access_token": token})
    assert response.status_code == 401
