"""POST /auth/register: the password policy and every field's 422, content type, races."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from campus.accounts.policy import common_passwords, password_problem

REGISTER = "/api/v1/auth/register"


def _body(**overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "email": "policy@example.com",
        "password": "a-long-passphrase",
        "full_name": "Pat Policy",
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not ...}


def test_common_password_list_is_large_and_loaded_once() -> None:
    assert len(common_passwords()) >= 10_000
    assert common_passwords() is common_passwords()
    assert "password" in common_passwords()
    assert password_problem("Password123", email=None) is not None  # case-insensitive
    assert password_problem("a-long-passphrase", email="x@example.com") is None


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("short7!", "at least 8 characters"),
        ("x" * 129, "at most 128 characters"),
        ("POLICY@example.com", "same as your email"),
        ("password1", "too common"),
        ("Iloveyou1", "too common"),
        ("qwertyuiop", "too common"),
    ],
)
async def test_weak_passwords_are_422_without_echo(
    client: httpx.AsyncClient, password: str, message: str
) -> None:
    response = await client.post(REGISTER, json=_body(password=password))
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["errors"][0]["loc"] == ["body", "password"]
    assert message in problem["errors"][0]["msg"]
    assert password not in response.text
    assert response.headers["content-type"] == "application/problem+json"


async def test_boundaries_8_and_128_are_accepted(client: httpx.AsyncClient) -> None:
    ok8 = await client.post(REGISTER, json=_body(email="b8@example.com", password="zq8#Lm2v"))
    assert ok8.status_code == 201, ok8.text
    ok128 = await client.post(REGISTER, json=_body(email="b128@example.com", password="k7" * 64))
    assert ok128.status_code == 201, ok128.text


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        (_body(email=...), ["body", "email"]),
        (_body(email="not-an-email"), ["body", "email"]),
        (_body(email="a" * 320 + "@example.com"), ["body", "email"]),
        (_body(email=12), ["body", "email"]),
        (_body(password=...), ["body", "password"]),
        (_body(password=None), ["body", "password"]),
        (_body(password=12345678), ["body", "password"]),
        (_body(full_name=...), ["body", "full_name"]),
        (_body(full_name="   "), ["body", "full_name"]),
        (_body(full_name="x" * 101), ["body", "full_name"]),
        (_body(full_name="nul\x00byte"), ["body", "full_name"]),
        (_body(role="admin"), ["body", "role"]),
    ],
)
async def test_every_field_is_validated(
    client: httpx.AsyncClient, body: dict[str, object], loc: list[str]
) -> None:
    response = await client.post(REGISTER, json=body)
    assert response.status_code == 422, response.text
    assert loc in [e["loc"] for e in response.json()["errors"]]
    assert "a-long-passphrase" not in response.text


async def test_wrong_content_type_and_malformed_json(client: httpx.AsyncClient) -> None:
    form = await client.post(REGISTER, data={"email": "f@example.com", "password": "x" * 12})
    assert form.status_code == 422
    text = await client.post(
        REGISTER, content=json.dumps(_body()), headers={"Content-Type": "text/plain"}
    )
    assert text.status_code in (415, 422)
    broken = await client.post(
        REGISTER, content=b'{"email": ', headers={"Content-Type": "application/json"}
    )
    assert broken.status_code in (400, 422)
    array = await client.post(REGISTER, json=[_body()])
    assert array.status_code == 422


async def test_no_response_carries_a_password_or_hash(client: httpx.AsyncClient) -> None:
    response = await client.post(REGISTER, json=_body(email="clean@example.com"))
    assert response.status_code == 201
    text = response.text.lower()
    assert "password" not in text
    assert "argon2" not in text
    assert "hash" not in text


async def test_two_simultaneous_registrations_one_wins(
    committed_client: httpx.AsyncClient,
) -> None:
    body = _body(email="race@example.com")
    first, second = await asyncio.gather(
        committed_client.post(REGISTER, json=body),
        committed_client.post(REGISTER, json={**body, "email": "RACE@example.com"}),
    )
    assert sorted([first.status_code, second.status_code]) == [201, 409], (
        first.text,
        second.text,
    )
