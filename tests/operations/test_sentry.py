"""Unexpected failures reach Sentry: the real sentry-sdk against a local envelope endpoint."""

from __future__ import annotations

import gzip
import json
import threading
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
import sentry_sdk
from fastapi import APIRouter

from campus.config import Settings
from campus.main import create_app


class FakeSentry(ThreadingHTTPServer):
    """Accepts ``POST /api/<project>/envelope/`` like Sentry's ingest and keeps the items."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.items: list[dict[str, object]] = []
        self.auth_headers: list[str] = []
        self.received = threading.Event()

    @property
    def dsn(self) -> str:
        return f"http://publickey@127.0.0.1:{self.server_address[1]}/42"


class _Handler(BaseHTTPRequestHandler):
    server: FakeSentry

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        encoding = self.headers.get("Content-Encoding", "")
        if encoding == "gzip":
            body = gzip.decompress(body)
        elif encoding == "deflate":
            body = zlib.decompress(body)
        elif encoding == "br":
            import brotli  # type: ignore[import-not-found]

            body = brotli.decompress(body)
        assert self.path == "/api/42/envelope/", self.path
        self.server.auth_headers.append(self.headers.get("X-Sentry-Auth", ""))
        for line in body.split(b"\n"):
            if line.startswith(b"{"):
                self.server.items.append(json.loads(line))
        self.server.received.set()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: object) -> None:
        return


@pytest.fixture
def fake_sentry() -> Iterator[FakeSentry]:
    server = FakeSentry()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        sentry_sdk.init()  # back to a client that sends nothing
        server.shutdown()
        server.server_close()


async def test_unexpected_error_is_reported_without_secrets(
    settings: Settings, fake_sentry: FakeSentry
) -> None:
    app = create_app(settings.model_copy(update={"sentry_dsn": fake_sentry.dsn}))
    router = APIRouter()

    @router.get("/api/v1/_probe/explode")
    async def explode() -> None:
        raise ZeroDivisionError("boom in the probe")

    app.include_router(router)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        response = await c.get(
            "/api/v1/_probe/explode",
            headers={
                "X-Request-ID": "sentry-req-1",
                "Authorization": "Bearer SECRET-TOKEN-VALUE",
                "Cookie": "campus_session=SECRET-COOKIE",
            },
        )
    await app.state.database.dispose()
    assert response.status_code == 500
    sentry_sdk.flush(timeout=5)
    assert fake_sentry.received.wait(5), "no envelope reached the fake Sentry"
    events = [item for item in fake_sentry.items if "exception" in item]
    assert events, fake_sentry.items
    event = events[0]
    exception = event["exception"]["values"][-1]  # type: ignore[index]
    assert exception["type"] == "ZeroDivisionError"
    assert event["tags"]["request_id"] == "sentry-req-1"  # type: ignore[index]
    assert event["tags"]["route"] == "/api/v1/_probe/explode"  # type: ignore[index]
    assert event["environment"] == "test"
    dumped = json.dumps(fake_sentry.items)
    assert "SECRET-TOKEN-VALUE" not in dumped
    assert "SECRET-COOKIE" not in dumped
    assert "sentry_key=publickey" in fake_sentry.auth_headers[0]


async def test_no_dsn_sends_nothing(settings: Settings) -> None:
    from campus.sentry import init_sentry

    assert init_sentry(settings) is False
