"""The one input guard for text: no NUL character and no lone UTF-16 surrogate reaches a
handler, whichever part of the request carries it.

Neither database stores such text (PostgreSQL refuses NUL in ``text``, asyncpg cannot
encode a lone surrogate), so a value carrying one would otherwise surface as a 500 deep in
a query. :class:`TextGuardMiddleware` checks, before routing:

- the path (path parameters come from it) and every query parameter;
- every header value and cookie (``User-Agent`` is stored with a session, the session
  cookie is looked up, ``Authorization`` is decoded);
- the body: every field of a form (``application/x-www-form-urlencoded`` and the text
  parts of ``multipart/form-data``), and every key and string of a JSON document (which
  must be UTF-8: other bytes are the same 422, where FastAPI would give a bare 400).

A bad value answers 422 naming the field (``loc`` as FastAPI words it: ``["query", "q"]``,
``["body", "items", 0, "title"]``): problem+json for the API, the full site error page for
a browser on a page. Text is decoded the way Starlette and FastAPI decode it, so what is
checked is exactly what the handler would have received.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

from starlette.datastructures import Headers
from starlette.requests import Request, cookie_parser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from campus.http.errors import (
    html_error_response,
    problem_payload,
    problem_response,
    wants_html,
)

NUL_MESSAGE = "must not contain NUL characters"
SURROGATE_MESSAGE = "must be valid Unicode (no lone surrogates)"
UTF8_MESSAGE = "must be valid UTF-8"
Loc = list[str | int]


def text_problem(value: str) -> tuple[str, str] | None:
    """``(type, message)`` when ``value`` is text no database stores, else ``None``."""
    if "\x00" in value:
        return "string_nul", NUL_MESSAGE
    if value.isascii():
        return None
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "string_surrogate", SURROGATE_MESSAGE
    return None


def _first_in_pairs(where: str, pairs: list[tuple[str, str]]) -> tuple[Loc, str, str] | None:
    for key, value in pairs:
        for text in (key, value):
            found = text_problem(text)
            if found is not None:
                return [where, key if text is value else "(name)"], *found
    return None


def _first_in_json(node: Any, loc: Loc) -> tuple[Loc, str, str] | None:
    """The first bad string (key or value) of a parsed JSON document, iteratively."""
    stack: list[tuple[Any, Loc]] = [(node, loc)]
    while stack:
        item, where = stack.pop()
        if isinstance(item, str):
            found = text_problem(item)
            if found is not None:
                return where, *found
        elif isinstance(item, dict):
            for key, value in reversed(list(item.items())):
                found = text_problem(key)
                if found is not None:
                    return [*where, "(name)"], *found
                stack.append((value, [*where, key]))
        elif isinstance(item, list):
            for index in range(len(item) - 1, -1, -1):
                stack.append((item[index], [*where, index]))
    return None


def check_scope(scope: Scope) -> tuple[Loc, str, str] | None:
    """The first bad text of the path, query string, headers and cookies, if any."""
    path = scope.get("path", "")
    found = text_problem(path)
    if found is not None:
        return ["path"], *found
    query = scope.get("query_string", b"")
    if query:
        pairs = parse_qsl(query.decode("latin-1"), keep_blank_values=True)
        located = _first_in_pairs("query", pairs)
        if located is not None:
            return located
    for raw_name, raw_value in scope.get("headers", ()):
        name = raw_name.decode("latin-1").lower()
        if name == "cookie":
            cookies = cookie_parser(raw_value.decode("latin-1"))
            located = _first_in_pairs("cookie", list(cookies.items()))
            if located is not None:
                return located
        if b"\x00" in raw_value or b"\x00" in raw_name:
            return ["header", name], "string_nul", NUL_MESSAGE
    return None


def check_body(content_type: str, body: bytes) -> tuple[Loc, str, str] | None:
    """The first bad text of a form or JSON body, if any (other bodies are not text)."""
    if not body:
        return None
    media = content_type.split(";", 1)[0].strip().lower()
    if media == "application/x-www-form-urlencoded":
        pairs = parse_qsl(body.decode("latin-1"), keep_blank_values=True)
        return _first_in_pairs("body", pairs)
    if media == "application/json" or media.endswith("+json"):
        if not body.isascii():
            try:
                body.decode("utf-8")
            except UnicodeDecodeError:
                # JSON is UTF-8 (RFC 8259); FastAPI would answer a bare 400.
                return ["body"], "json_invalid", UTF8_MESSAGE
        # NUL and lone surrogates can only arrive as \u escapes (a raw NUL is not valid
        # JSON, which the JSON parser already refuses).
        if b"\\u" not in body and b"\x00" not in body:
            return None
        try:
            document = json.loads(body)
        except ValueError:
            return None  # FastAPI answers malformed JSON with its own 422
        return _first_in_json(document, ["body"])
    return None


async def _multipart_problem(scope: Scope, body: bytes) -> tuple[Loc, str, str] | None:
    async def receive() -> Message:
        return {"type": "http.request", "body": body, "more_body": False}

    try:
        form = await Request(scope, receive).form()
    except Exception:
        return None  # the handler gets the same parse error
    try:
        pairs = [(key, value) for key, value in form.multi_items() if isinstance(value, str)]
        return _first_in_pairs("body", pairs)
    finally:
        await form.close()


class TextGuardMiddleware:
    """422 for NUL or lone surrogates anywhere in a request's text (see the module doc)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        found = check_scope(scope)
        if found is not None:
            await self._reject(scope, receive, send, found)
            return
        content_type = Headers(scope=scope).get("content-type", "")
        if scope.get("method") in ("GET", "HEAD", "OPTIONS", "DELETE") or not content_type:
            await self.app(scope, receive, send)
            return
        # The body limit middleware in front has already bounded the body's size.
        chunks: list[bytes] = []
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = b"".join(chunks)
        if content_type.lower().startswith("multipart/form-data"):
            found = await _multipart_problem(scope, body)
        else:
            found = check_body(content_type, body)
        if found is not None:
            await self._reject(scope, receive, send, found)
            return
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    @staticmethod
    async def _reject(
        scope: Scope, receive: Receive, send: Send, found: tuple[Loc, str, str]
    ) -> None:
        loc, kind, message = found
        field = ".".join(str(part) for part in loc[1:]) or loc[0]
        detail = f"The request is not valid: {field} {message}."
        # The instance names the path as sent, with the bad characters escaped.
        path = str(scope.get("path", "")).replace("\x00", "%00")
        path = path.encode("utf-8", "backslashreplace").decode("utf-8")
        accept = Headers(scope=scope).get("accept", "")
        if wants_html(path, accept):
            request = Request({**scope, "path": path}, receive)
            response = await html_error_response(
                request, status=422, title="Unprocessable Content", detail=detail
            )
        else:
            payload = problem_payload(
                status=422,
                instance=path,
                code="validation-error",
                title="Unprocessable Content",
                detail=detail,
                errors=[{"loc": loc, "msg": f"text {message}", "type": kind}],
            )
            response = problem_response(payload)
        await response(scope, receive, send)
