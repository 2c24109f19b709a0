"""API.md §1 and §9: problem details, request ids, security headers, CORS, docs."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Annotated

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI
from pydantic import Field

from campus.config import Settings
from campus.errors import Conflict
from campus.http.deps import page_params
from campus.kit.pagination.params import PageParams
from campus.kit.schemas import InputSchema
from campus.main import create_app


class Echo(InputSchema):
    title: str = Field(min_length=1, max_length=200)
    count: int = Field(default=0, ge=0, le=2**31 - 1)
    password: str | None = Field(default=None, max_length=128)


@pytest.fixture(scope="module")
def probe_app(settings: Settings) -> FastAPI:
    app = create_app(settings)
    router = APIRouter(prefix="/api/v1/_probe")

    @router.post("/echo")
    async def echo(body: Echo) -> dict[str, object]:
        return body.model_dump()

    @router.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret-value SELECT * FROM users")

    @router.get("/conflict")
    async def conflict() -> None:
        raise Conflict("That slug is taken.", code="duplicate-slug")

    @router.get("/list")
    async def listing(
        params: Annotated[PageParams, Depends(page_params(["created_at", "title"], "-created_at"))],
    ) -> dict[str, object]:
        return {
            "skip": params.skip,
            "limit": params.limit,
            "sort": [[k.field, k.descending] for k in params.sort],
        }

    @router.get("/big")
    async def big() -> dict[str, str]:
        return {"data": "x" * 5000}

    app.include_router(router)
    return app


@pytest.fixture
async def api(probe_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=probe_app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


def assert_problem(response: httpx.Response, status: int) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status
    for key in ("type", "title", "detail", "instance"):
        assert key in body
    return body  # type: ignore[no-any-return]


async def test_unknown_route_is_a_404_problem(api: httpx.AsyncClient) -> None:
    body = assert_problem(await api.get("/api/v1/nothing-here"), 404)
    assert body["instance"] == "/api/v1/nothing-here"


async def test_unknown_page_is_an_html_404(api: httpx.AsyncClient) -> None:
    response = await api.get("/nothing-here", headers={"Accept": "text/html"})
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "404" in response.text


async def test_api_paths_answer_problems_even_to_browsers(api: httpx.AsyncClient) -> None:
    response = await api.get("/api/v1/nothing", headers={"Accept": "text/html"})
    assert_problem(response, 404)


async def test_wrong_method_is_a_405_problem_with_allow(api: httpx.AsyncClient) -> None:
    response = await api.delete("/api/v1/_probe/echo")
    assert_problem(response, 405)
    assert "POST" in response.headers["allow"]


async def test_validation_error_lists_errors(api: httpx.AsyncClient) -> None:
    body = assert_problem(await api.post("/api/v1/_probe/echo", json={"title": ""}), 422)
    errors = body["errors"]
    assert isinstance(errors, list)
    assert errors[0]["loc"] == ["body", "title"]
    assert set(errors[0]) == {"loc", "msg", "type"}


async def test_validation_error_never_echoes_a_password(api: httpx.AsyncClient) -> None:
    response = await api.post(
        "/api/v1/_probe/echo", json={"title": "x", "password": "p" * 129 + "SECRETPW"}
    )
    assert_problem(response, 422)
    assert "SECRETPW" not in response.text


@pytest.mark.parametrize(
    "content",
    [b"{not json", b"[1, 2]", b'"a string"', b"", b"null", b"\xff\xfe"],
)
async def test_malformed_or_non_object_json_is_422(api: httpx.AsyncClient, content: bytes) -> None:
    response = await api.post(
        "/api/v1/_probe/echo", content=content, headers={"Content-Type": "application/json"}
    )
    assert response.status_code in (400, 422)
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_deeply_nested_json_is_422(api: httpx.AsyncClient) -> None:
    deep = "[" * 40 + "]" * 40
    content = ('{"title": "x", "count": ' + deep + "}").encode()
    response = await api.post(
        "/api/v1/_probe/echo", content=content, headers={"Content-Type": "application/json"}
    )
    body = assert_problem(response, 422)
    assert body["errors"][0]["type"] == "json_too_deep"  # type: ignore[index]


async def test_very_deep_json_never_crashes(api: httpx.AsyncClient) -> None:
    deep = "[" * 100_000 + "]" * 100_000
    response = await api.post(
        "/api/v1/_probe/echo", content=deep.encode(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422


async def test_body_over_one_mib_is_413(api: httpx.AsyncClient) -> None:
    content = json.dumps({"title": "x" * (1024 * 1024 + 10)}).encode()
    response = await api.post(
        "/api/v1/_probe/echo", content=content, headers={"Content-Type": "application/json"}
    )
    assert_problem(response, 413)


async def test_chunked_body_over_one_mib_is_413(api: httpx.AsyncClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(20):
            yield b"x" * 65536

    response = await api.post(
        "/api/v1/_probe/echo", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert_problem(response, 413)


async def test_nul_character_in_text_is_422(api: httpx.AsyncClient) -> None:
    assert_problem(await api.post("/api/v1/_probe/echo", json={"title": "a\x00b"}), 422)


async def test_integer_out_of_range_is_422(api: httpx.AsyncClient) -> None:
    assert_problem(await api.post("/api/v1/_probe/echo", json={"title": "a", "count": 2**40}), 422)


async def test_unknown_field_is_422(api: httpx.AsyncClient) -> None:
    assert_problem(await api.post("/api/v1/_probe/echo", json={"title": "a", "x": 1}), 422)


async def test_campus_error_becomes_a_problem_with_its_code(api: httpx.AsyncClient) -> None:
    body = assert_problem(await api.get("/api/v1/_probe/conflict"), 409)
    assert str(body["type"]).endswith("duplicate-slug")
    assert body["detail"] == "That slug is taken."


async def test_unexpected_error_is_a_500_problem_without_internals(
    api: httpx.AsyncClient,
) -> None:
    response = await api.get("/api/v1/_probe/boom", headers={"X-Request-ID": "req-42"})
    body = assert_problem(response, 500)
    assert "req-42" in str(body["detail"])
    assert response.headers["x-request-id"] == "req-42"
    assert "secret-value" not in response.text
    assert "SELECT" not in response.text
    assert "Traceback" not in response.text
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_unexpected_error_on_a_page_is_an_html_page(api: httpx.AsyncClient) -> None:
    # The probe route lives under /api, so use a page-like path served by the same handler
    response = await api.get("/api/v1/_probe/boom", headers={"Accept": "text/html"})
    assert response.status_code == 500
    assert response.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize(
    ("incoming", "echoed"),
    [("abc-123_X.y", True), ("a" * 128, True), ("a" * 129, False), ("bad id!", False), ("", False)],
)
async def test_request_id(api: httpx.AsyncClient, incoming: str, echoed: bool) -> None:
    response = await api.get("/health/live", headers={"X-Request-ID": incoming})
    rid = response.headers["x-request-id"]
    if echoed:
        assert rid == incoming
    else:
        assert rid != incoming
        assert 1 <= len(rid) <= 128


async def test_request_id_on_every_response(api: httpx.AsyncClient) -> None:
    for path in ("/health/live", "/api/v1/missing", "/openapi.json"):
        assert (await api.get(path)).headers.get("x-request-id")


async def test_security_headers(api: httpx.AsyncClient) -> None:
    response = await api.get("/health/live")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"]
    assert response.headers["x-frame-options"] == "DENY"
    assert "strict-transport-security" not in response.headers
    assert "content-security-policy" not in response.headers  # JSON, not HTML


async def test_csp_on_html(api: httpx.AsyncClient) -> None:
    response = await api.get("/", headers={"Accept": "text/html"})
    csp = response.headers["content-security-policy"]
    assert "default-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp


async def test_hsts_over_https(probe_app: FastAPI) -> None:
    transport = httpx.ASGITransport(app=probe_app)
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as c:
        response = await c.get("/health/live")
    assert "max-age=" in response.headers["strict-transport-security"]


async def test_forwarded_proto_is_ignored_from_untrusted_peers(api: httpx.AsyncClient) -> None:
    response = await api.get("/health/live", headers={"X-Forwarded-Proto": "https"})
    assert "strict-transport-security" not in response.headers


async def test_cors_allows_listed_origin(api: httpx.AsyncClient) -> None:
    response = await api.options(
        "/api/v1/_probe/echo",
        headers={
            "Origin": "https://app.example.com",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "Authorization, Content-Type",
        },
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "https://app.example.com"


async def test_cors_refuses_other_origins(api: httpx.AsyncClient) -> None:
    response = await api.options(
        "/api/v1/_probe/echo",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-origin" not in response.headers
    plain = await api.get("/health/live", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in plain.headers


async def test_gzip_above_one_kib(api: httpx.AsyncClient) -> None:
    response = await api.get("/api/v1/_probe/big", headers={"Accept-Encoding": "gzip"})
    assert response.headers.get("content-encoding") == "gzip"
    small = await api.get("/health/live", headers={"Accept-Encoding": "gzip"})
    assert "content-encoding" not in small.headers


@pytest.mark.parametrize("path", ["/openapi.json", "/docs", "/redoc"])
async def test_docs_are_served(api: httpx.AsyncClient, path: str) -> None:
    assert (await api.get(path)).status_code == 200


async def test_list_params_validation(api: httpx.AsyncClient) -> None:
    ok = await api.get("/api/v1/_probe/list", params={"sort": "title,-created_at"})
    assert ok.json() == {"skip": 0, "limit": 20, "sort": [["title", False], ["created_at", True]]}
    default = await api.get("/api/v1/_probe/list")
    assert default.json()["sort"] == [["created_at", True]]
    for params in (
        {"limit": 0},
        {"limit": 101},
        {"skip": -1},
        {"sort": "password"},
        {"limit": "x"},
    ):
        assert_problem(await api.get("/api/v1/_probe/list", params=params), 422)


@pytest.mark.parametrize("query", ["q=%00", "q=a%00b", "sort=%00title"])
async def test_nul_in_query_string_is_422(api: httpx.AsyncClient, query: str) -> None:
    assert_problem(await api.get(f"/api/v1/courses?{query}"), 422)
