"""More JWT attacks and header shapes: every one is a 401, never a 500."""

from __future__ import annotations

import httpx
import jwt
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from campus.config import Settings
from tests.factories import auth_headers, create_user

ME = "/api/v1/auth/me"


@pytest.mark.parametrize(
    "attack",
    [
        "tampered_payload",
        "tampered_signature",
        "sub_not_a_number",
        "sub_huge",
        "other_users_sid",
        "unknown_sid",
        "no_type",
        "type_unknown",
        "iat_missing",
        "exp_as_text",
        "rs256_header",
        "empty",
    ],
)
async def test_more_token_attacks(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, attack: str
) -> None:
    user = await create_user(session, settings)
    other = await create_user(session, settings)
    good = (await auth_headers(session, settings, user))["Authorization"].split()[1]
    other_token = (await auth_headers(session, settings, other))["Authorization"].split()[1]
    claims = jwt.decode(good, options={"verify_signature": False})
    key, alg = settings.secret_key, "HS256"
    header, payload, signature = good.split(".")
    forged_payload = jwt.utils.base64url_encode(b'{"sub":"1"}').decode()
    rs256 = jwt.utils.base64url_encode(b'{"alg":"RS256","typ":"JWT"}').decode()

    def without(name: str) -> str:
        return jwt.encode({k: v for k, v in claims.items() if k != name}, key, algorithm=alg)

    tokens = {
        "tampered_payload": f"{header}.{forged_payload}.{signature}",
        "tampered_signature": f"{header}.{payload}.{signature[::-1]}",
        "sub_not_a_number": jwt.encode({**claims, "sub": "admin"}, key, algorithm=alg),
        "sub_huge": jwt.encode({**claims, "sub": str(10**30)}, key, algorithm=alg),
        "other_users_sid": jwt.encode(
            {**claims, "sid": jwt.decode(other_token, options={"verify_signature": False})["sid"]},
            key,
            algorithm=alg,
        ),
        "unknown_sid": jwt.encode({**claims, "sid": "no-such-session"}, key, algorithm=alg),
        "no_type": without("type"),
        "type_unknown": jwt.encode({**claims, "type": "id"}, key, algorithm=alg),
        "iat_missing": jwt.encode(
            {k: v for k, v in claims.items() if k != "iat"}, key, algorithm=alg
        ),
        "exp_as_text": jwt.encode({**claims, "exp": "tomorrow"}, key, algorithm=alg),
        "rs256_header": f"{rs256}.{payload}.{signature}",
        "empty": "",
    }
    response = await client.get(ME, headers={"Authorization": f"Bearer {tokens[attack]}"})
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"] == "Bearer"
    assert (await client.get(ME, headers={"Authorization": f"Bearer {good}"})).status_code == 200


@pytest.mark.parametrize(
    "header", ["Basic dXNlcjpwYXNz", "Bearer", "Token abc", "bearer  ", "Bearer a b c"]
)
async def test_odd_authorization_headers(client: httpx.AsyncClient, header: str) -> None:
    assert (await client.get(ME, headers={"Authorization": header})).status_code == 401


async def test_token_of_a_deleted_user(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    user = await create_user(session, settings)
    headers = await auth_headers(session, settings, user)
    await session.delete(user)
    await session.flush()
    assert (await client.get(ME, headers=headers)).status_code == 401


async def test_refresh_with_an_access_token_and_garbage(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    user = await create_user(session, settings)
    access = (await auth_headers(session, settings, user))["Authorization"].split()[1]
    for token in [access, "garbage", "a.b.c"]:
        response = await client.post("/api/v1/auth/refresh", json={"refresh_token": token})
        assert response.status_code == 401
    assert (await client.post("/api/v1/auth/refresh", json={})).status_code == 422
    assert (
        await client.post("/api/v1/auth/refresh", json={"refresh_token": "x" * 5000})
    ).status_code == 422


async def test_oversized_body_is_413(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/auth/register",
        content=b'{"email": "' + b"a" * (1024 * 1024 + 10) + b'"}',
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 413
