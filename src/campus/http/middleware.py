"""Pure ASGI middleware: request ids and access log, security headers, body limits."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Sequence
from typing import Any

import structlog
from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from campus.http.errors import (
    html_error_response,
    is_page_path,
    problem_payload,
    problem_response,
    unexpected_error_payload,
    wants_html,
)
from campus.http.net import client_ip, is_https
from campus.http.web import visitor_locale
from campus.kit import i18n
from campus.kit.i18n import N_
from campus.log import get_logger
from campus.sentry import report_exception

REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
access_logger = get_logger("campus.access")
error_logger = get_logger("campus.errors")

PAGE_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)
# Swagger UI and ReDoc: their bundles come from our own origin (fastapi-offline, under
# /docs/assets); their pages start them with an inline script and ReDoc styles inline and
# runs a blob: worker, which only these two pages allow. Nothing from another origin.
DOCS_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self' 'unsafe-inline'; font-src 'self'; worker-src 'self' blob:; "
    "connect-src 'self'; object-src 'none'; frame-ancestors 'none'"
)
DOCS_PATHS = ("/docs", "/redoc")


def route_template(scope: Scope) -> str:
    """The matched route's full template, e.g. ``/api/v1/courses/{course_id}``.

    Routes of included routers know only their own part of the path, so the static prefix
    is recovered from the request path: render the route with its parameters, and what
    precedes that rendering is the prefix the routers added.
    """
    route = scope.get("route")
    template = getattr(route, "path_format", None) or getattr(route, "path", None)
    if not template:
        return "<unmatched>"
    path = str(scope.get("path", ""))
    try:
        rendered = template.format(**scope.get("path_params", {}))
    except (KeyError, IndexError, ValueError):
        return str(template)
    if path.endswith(rendered):
        return path[: len(path) - len(rendered)] + str(template)
    return str(template)


class RequestContextMiddleware:
    """Request id, the visitor's locale (pages only: the API speaks English), one
    structured access-log line per request, and the 500 safety net."""

    def __init__(self, app: ASGIApp, *, trusted_proxies: Sequence[str] = ()) -> None:
        self.app = app
        self.trusted_proxies = tuple(trusted_proxies)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        incoming = Headers(scope=scope).get("x-request-id", "")
        request_id = incoming if REQUEST_ID_RE.match(incoming) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        locale = i18n.DEFAULT_LOCALE
        if scope["type"] == "http" and is_page_path(str(scope.get("path", ""))):
            request = Request(scope)
            locale = visitor_locale(request.cookies, request.headers.get("accept-language"))
        locale_token = i18n.set_locale(locale)
        started = time.perf_counter()
        status_holder: dict[str, Any] = {"status": None}

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                headers = MutableHeaders(scope=message)
                headers["X-Request-ID"] = request_id
            await send(message)

        try:
            # A socket's frames go straight to the server's send (a wrapper would be one
            # more call per frame of every fan-out, for nothing: it only sees HTTP).
            await self.app(scope, receive, send_wrapper if scope["type"] == "http" else send)
        except Exception as exc:
            route = route_template(scope)
            error_logger.exception("unhandled_error", method=scope.get("method"), route=route)
            report_exception(exc, request_id=request_id, route=route)
            if scope["type"] == "http" and status_holder["status"] is None:
                response = await self._error_response(scope, request_id)
                await response(scope, receive, send_wrapper)
            elif scope["type"] == "http":
                raise
        finally:
            i18n.reset_locale(locale_token)
            if scope["type"] == "http":
                access_logger.info(
                    "request",
                    method=scope.get("method"),
                    path=scope.get("path"),
                    route=route_template(scope),
                    status=status_holder["status"],
                    duration_ms=round((time.perf_counter() - started) * 1000, 2),
                    client=client_ip(scope, self.trusted_proxies),
                )

    @staticmethod
    async def _error_response(scope: Scope, request_id: str) -> Any:
        path = scope.get("path", "")
        accept = Headers(scope=scope).get("accept", "")
        if wants_html(path, accept):
            return await html_error_response(
                Request(scope),
                status=500,
                title=N_("Something went wrong"),
                detail=N_("An unexpected error occurred. Request id: %(request_id)s."),
                variables={"request_id": request_id},
            )
        return problem_response(unexpected_error_payload(path, request_id))


class SecurityHeadersMiddleware:
    """nosniff, referrer policy, frame protection everywhere; CSP on HTML; HSTS on HTTPS."""

    def __init__(self, app: ASGIApp, *, trusted_proxies: Sequence[str] = ()) -> None:
        self.app = app
        self.trusted_proxies = tuple(trusted_proxies)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        https = is_https(scope, self.trusted_proxies)
        docs = scope.get("path", "") in DOCS_PATHS

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
                headers.setdefault("X-Frame-Options", "DENY")
                headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
                headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
                if headers.get("content-type", "").startswith("text/html"):
                    headers.setdefault("Content-Security-Policy", DOCS_CSP if docs else PAGE_CSP)
                if https:
                    headers.setdefault(
                        "Strict-Transport-Security", "max-age=63072000; includeSubDomains"
                    )
            await send(message)

        await self.app(scope, receive, send_wrapper)


def json_depth_exceeds(body: bytes, limit: int) -> bool:
    """True when JSON nests deeper than ``limit`` (checked before any parser recurses)."""
    depth = 0
    in_string = False
    escaped = False
    for byte in body:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            if depth > limit:
                return True
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return False


class BodyLimitMiddleware:
    """Input limits before any parsing: 413 for bodies over the limit; 422 for JSON nested
    deeper than allowed. (Text itself is checked by ``campus.http.textguard``.)"""

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_bytes: int,
        max_json_depth: int,
        larger_bodies: Sequence[tuple[re.Pattern[str], int]] = (),
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_json_depth = max_json_depth
        # (path pattern, limit): routes that take more (file uploads), e.g. media.
        self.larger_bodies = tuple(larger_bodies)

    def limit_for(self, path: str) -> int:
        for pattern, limit in self.larger_bodies:
            if pattern.fullmatch(path):
                return max(limit, self.max_bytes)
        return self.max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        max_bytes = self.limit_for(scope.get("path", ""))
        headers = Headers(scope=scope)
        declared = headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > max_bytes:
            await self._reject_too_large(scope, receive, send, max_bytes)
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > max_bytes:
                await self._reject_too_large(scope, receive, send, max_bytes)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        content_type = headers.get("content-type", "")
        if "json" in content_type and json_depth_exceeds(body, self.max_json_depth):
            payload = problem_payload(
                status=422,
                instance=scope.get("path", ""),
                code="validation-error",
                title="Unprocessable Content",
                detail=f"JSON nested deeper than {self.max_json_depth} levels.",
                errors=[
                    {
                        "loc": ["body"],
                        "msg": f"JSON nested deeper than {self.max_json_depth} levels",
                        "type": "json_too_deep",
                    }
                ],
            )
            await problem_response(payload)(scope, receive, send)
            return

        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _reject_too_large(
        self, scope: Scope, receive: Receive, send: Send, max_bytes: int
    ) -> None:
        payload = problem_payload(
            status=413,
            instance=scope.get("path", ""),
            code="payload-too-large",
            title="Content Too Large",
            detail=f"The request body is larger than {max_bytes} bytes.",
        )
        await problem_response(payload, headers={"Connection": "close"})(scope, receive, send)
