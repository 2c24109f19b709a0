"""One structured line per request, and never a credential in the logs."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest

from campus.log import REDACTED, redact


def _events(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    """structlog hands the stdlib handler its event dict as the record's message."""
    return [r.msg for r in caplog.records if isinstance(r.msg, dict)]


async def test_one_access_line_per_request_without_secrets(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    await client.post(
        "/api/v1/nowhere?token=QUERYSECRET",
        headers={
            "Authorization": "Bearer HEADERSECRET",
            "Cookie": "campus_session=COOKIESECRET",
            "X-Request-ID": "log-test-1",
        },
        json={"password": "BODYSECRET"},
    )
    logs = _events(caplog)
    access = [e for e in logs if e.get("event") == "request"]
    assert len(access) == 1
    line = access[0]
    assert line["method"] == "POST"
    assert line["status"] == 404
    assert line["path"] == "/api/v1/nowhere"
    assert "duration_ms" in line
    assert "route" in line
    text = repr(logs) + caplog.text
    for secret in ("QUERYSECRET", "HEADERSECRET", "COOKIESECRET", "BODYSECRET"):
        assert secret not in text


async def test_route_template_is_logged(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    await client.get("/health/live")
    events = _events(caplog)
    assert [e["route"] for e in events if e.get("event") == "request"] == ["/health/live"]


def test_redaction_processor() -> None:
    event = {"event": "x", "password": "p", "Authorization": "Bearer t", "refresh_token": "r"}
    out = redact(None, "info", event)
    assert out["password"] == REDACTED
    assert out["Authorization"] == REDACTED
    assert out["refresh_token"] == REDACTED
    assert out["event"] == "x"


async def test_route_template_has_the_full_prefix(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    await client.get("/api/v1/courses/123456/lessons/77")
    events = [e for e in _events(caplog) if e.get("event") == "request"]
    assert events[-1]["route"] == "/api/v1/courses/{course_id}/lessons/{lesson_id}"
