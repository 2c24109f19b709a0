"""The text guard: NUL and lone surrogates are a 422 naming the field wherever they come
from (path, query, header, cookie, form, JSON), on both databases; and a property test
feeding arbitrary Unicode to every text input of every operation finds no 5xx."""

from __future__ import annotations

import json
import os
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from fastapi import FastAPI
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncSession

from campus.config import Settings
from campus.http.textguard import check_body, text_problem
from campus.models.accounts import UserRole
from tests.factories import DEFAULT_PASSWORD, auth_headers, create_user
from tests.pagehelpers import HTML, page_csrf, sign_in

FUZZ_EXAMPLES = int(os.environ.get("CAMPUS_FUZZ_EXAMPLES", "0") or 0)


def assert_names(response: httpx.Response, loc: list[Any]) -> None:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["errors"][0]["loc"] == loc
    assert body["errors"][0]["type"] in ("string_nul", "string_surrogate")


def test_the_rule() -> None:
    assert text_problem("plain") is None
    assert text_problem("naïve ✓ 𝄞") is None
    assert text_problem("a\x00b") == ("string_nul", "must not contain NUL characters")
    assert text_problem("a\ud800") is not None
    assert text_problem("\udfff") is not None
    assert check_body("application/json", b'{"a": "\\ud83d\\ude00"}') is None  # a valid pair
    assert check_body("application/json", b'{"a": ["x", {"b": "\\ud83d"}]}') == (
        ["body", "a", 1, "b"],
        "string_surrogate",
        "must be valid Unicode (no lone surrogates)",
    )
    assert check_body("application/json", b"{not json \\u0000") is None  # FastAPI's own 422
    assert check_body("application/json", b'{"a": "\xff\xfe"}') == (
        ["body"],
        "json_invalid",
        "must be valid UTF-8",
    )
    assert check_body("application/json", '{"a": "é"}'.encode()) is None


async def test_nul_in_the_sign_in_forms_username_is_a_422(client: httpx.AsyncClient) -> None:
    """The reported bug: a 500 on PostgreSQL (asyncpg CharacterNotInRepertoireError)."""
    response = await client.post(
        "/api/v1/auth/login", data={"username": "a\x00@example.test", "password": "whatever1"}
    )
    assert_names(response, ["body", "username"])
    assert "username" in response.json()["detail"]
    assert "whatever1" not in response.text


async def test_nul_in_the_query_the_path_and_headers(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    user = await create_user(session, settings)
    headers = await auth_headers(session, settings, user)
    assert_names(await client.get("/api/v1/tasks?q=a%00b", headers=headers), ["query", "q"])
    assert_names(await client.get("/api/v1/courses?q%00=x"), ["query", "(name)"])
    response = await client.get("/api/v1/auth/oauth/git%00hub/login")
    assert_names(response, ["path"])
    assert response.json()["instance"] == "/api/v1/auth/oauth/git%00hub/login"
    response = await client.get("/api/v1/auth/me", headers={**headers, "User-Agent": "x\x00y"})
    assert_names(response, ["header", "user-agent"])
    response = await client.get("/", headers={"Cookie": "campus_session=ab\x00cd"})
    assert_names(response, ["cookie", "campus_session"])


async def test_nul_and_surrogates_in_json_anywhere(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    user = await create_user(session, settings)
    headers = {**await auth_headers(session, settings, user), "Content-Type": "application/json"}
    for raw, loc in [
        ('{"title": "a\\u0000"}', ["body", "title"]),
        ('{"title": "\\udc80"}', ["body", "title"]),
        ('{"title": "ok", "\\ud800": 1}', ["body", "(name)"]),
    ]:
        assert_names(await client.post("/api/v1/tasks", content=raw, headers=headers), loc)
    # Bytes that are not UTF-8 (schemathesis: a bare, undocumented 400 before).
    response = await client.post("/api/v1/tasks", content=b'{"title": "\xff"}', headers=headers)
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["body"]
    # A surrogate *pair* is a valid character and is stored.
    response = await client.post(
        "/api/v1/tasks", content='{"title": "\\ud83d\\ude00 party"}', headers=headers
    )
    assert response.status_code == 201, response.text
    assert response.json()["title"] == "\U0001f600 party"


async def test_a_page_form_with_nul_keeps_the_site(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    user = await create_user(session, settings, role=UserRole.STUDENT, full_name="Ada Lovelace")
    await sign_in(client, user.email, DEFAULT_PASSWORD)
    token = await page_csrf(client, "/tasks")
    for content_type, data in [
        ("urlencoded", {"title": "bad\x00title", "csrf_token": token}),
        ("multipart", {"title": "bad\x00title", "csrf_token": token}),
    ]:
        if content_type == "urlencoded":
            response = await client.post("/tasks", data=data, headers=HTML)
        else:
            response = await client.post(
                "/tasks", files={k: (None, v) for k, v in data.items()}, headers=HTML
            )
        assert response.status_code == 422, response.text
        assert response.headers["content-type"].startswith("text/html")
        assert '<header class="site-header">' in response.text
        assert "Ada Lovelace" in response.text
        assert "title must not contain NUL characters" in response.text


async def test_the_sign_in_page_with_nul(client: httpx.AsyncClient) -> None:
    token = await page_csrf(client, "/login")
    response = await client.post(
        "/login",
        data={"email": "x\x00@example.test", "password": "pw", "csrf_token": token},
        headers=HTML,
    )
    assert response.status_code == 422
    assert '<header class="site-header">' in response.text
    assert "email must not contain NUL characters" in response.text


# --- the property: arbitrary Unicode in every text input of every operation -----------------

BAD = st.sampled_from(["\x00", "\ud800", "\udfff", "\ufffe", "\u202e", "%00", "\\u0000"])
ANY_TEXT = st.lists(st.one_of(st.text(st.characters(exclude_categories=())), BAD), max_size=6).map(
    "".join
)


def _filler(schema: dict[str, Any]) -> Any:
    """A plausible value for a required property, so the generated text gets past the rest."""
    kind = schema.get("type")
    if "anyOf" in schema:
        return _filler(schema["anyOf"][0])
    if "enum" in schema:
        return schema["enum"][0]
    if kind == "integer":
        return 1
    if kind == "number":
        return 1
    if kind == "boolean":
        return True
    if kind == "array":
        return []
    if kind == "object":
        return {}
    if schema.get("format") == "email":
        return "someone@example.test"
    return "text value 1"


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = spec["components"]["schemas"][name]
    return schema


def text_targets(spec: dict[str, Any]) -> list[tuple[str, str, str, str, dict[str, Any]]]:
    """(method, path, where, name, body template) for every text input in the schema."""
    targets: list[tuple[str, str, str, str, dict[str, Any]]] = []
    for path, operations in spec["paths"].items():
        for method, op in operations.items():
            for param in op.get("parameters", []):
                targets.append((method, path, param["in"], param["name"], {}))
            targets.append((method, path, "header", "user-agent", {}))
            content = op.get("requestBody", {}).get("content", {})
            for media, body in content.items():
                schema = _resolve(spec, body["schema"])
                template = {
                    name: _filler(_resolve(spec, prop))
                    for name, prop in schema.get("properties", {}).items()
                    if name in schema.get("required", ())
                }
                where = "json" if "json" in media else "form"
                for name in schema.get("properties", {}):
                    targets.append((method, path, where, name, template))
    return targets


def _encode(text: str) -> str:
    return quote(text.encode("utf-8", "surrogatepass"), safe="")


async def send(
    client: httpx.AsyncClient,
    spec: dict[str, Any],
    target: tuple[str, str, str, str, dict[str, Any]],
    text: str,
    headers: dict[str, str],
) -> httpx.Response:
    method, path, where, name, template = target
    op = spec["paths"][path][method]
    url = path
    for param in op.get("parameters", []):
        if param["in"] == "path":
            value = _encode(text) if param["name"] == name and where == "path" else "1"
            url = url.replace("{" + param["name"] + "}", value)
    query = f"{_encode(name)}={_encode(text)}" if where == "query" else ""
    raw_headers: list[tuple[bytes, bytes]] = [
        (k.lower().encode(), v.encode()) for k, v in headers.items()
    ]
    if where == "header":
        raw_headers = [h for h in raw_headers if h[0] != name.lower().encode()]
        raw_headers.append((name.lower().encode(), text.encode("utf-8", "surrogatepass")))
    content: bytes | None = None
    if where == "json":
        raw_headers.append((b"content-type", b"application/json"))
        content = json.dumps({**template, name: text}).encode()  # ASCII: surrogates escaped
    elif where == "form":
        raw_headers.append((b"content-type", b"application/x-www-form-urlencoded"))
        fields = {**template, name: text}
        content = "&".join(f"{_encode(k)}={_encode(str(v))}" for k, v in fields.items()).encode()
    request = client.build_request(method.upper(), url + ("?" + query if query else ""))
    request.headers = httpx.Headers([(b"host", b"testserver"), *raw_headers])
    if content is not None:
        request.headers["content-length"] = str(len(content))
        request.stream = httpx.ByteStream(content)
    return await client.send(request, follow_redirects=False)


@pytest.fixture
async def admin_headers(session: AsyncSession, settings: Settings) -> dict[str, str]:
    admin = await create_user(session, settings, role=UserRole.ADMIN)
    return await auth_headers(session, settings, admin)


async def test_every_text_input_of_every_operation_is_guarded(
    app: FastAPI, client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    """A NUL in any text input of any operation is a 422 (never a 5xx, never stored)."""
    spec = app.openapi()
    targets = text_targets(spec)
    assert len(targets) > 100
    for target in targets:
        response = await send(client, spec, target, "nul\x00here", admin_headers)
        assert response.status_code == 422, (target[:4], response.status_code, response.text)


@pytest.fixture(params=[UserRole.STUDENT, UserRole.ADMIN], ids=str)
async def role_headers(
    request: pytest.FixtureRequest, session: AsyncSession, settings: Settings
) -> dict[str, str]:
    user = await create_user(session, settings, role=request.param)
    return await auth_headers(session, settings, user)


@hypothesis_settings(
    max_examples=FUZZ_EXAMPLES or 150,
    deadline=None,
    derandomize=not FUZZ_EXAMPLES,
    suppress_health_check=list(HealthCheck),
    database=None,
)
@given(data=st.data())
async def test_arbitrary_unicode_in_any_text_input_is_never_a_server_error(
    app: FastAPI, client: httpx.AsyncClient, role_headers: dict[str, str], data: st.DataObject
) -> None:
    spec = app.openapi()
    target = data.draw(st.sampled_from(text_targets(spec)), label="target")
    text = data.draw(ANY_TEXT, label="text")
    response = await send(client, spec, target, text, role_headers)
    assert response.status_code < 500, (target[:4], repr(text), response.text)
    if "\x00" in text:
        assert response.status_code == 422, (target[:4], repr(text), response.text)
