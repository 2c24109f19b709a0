"""Conditional GETs (RFC 9110 §8.8.3, §13.1.2): strong ETags and 304 Not Modified.

A resource's ETag is derived from what changes its representation (for a course: its
``updated_at``, its maintained counts, its teacher's name; see the repositories'
``*_version`` reads), never from the encoded body, so a handler can answer
``If-None-Match`` with a 304 after one narrow query, before loading and encoding the body.

Caching: a response that anyone may see the same way (an anonymous read of published
content) is ``public, no-cache`` (a shared cache may keep it but must revalidate); every
response to a signed-in request is ``private, no-cache`` (never kept by a shared cache).
Both carry ``Vary: Authorization, Cookie``: the same URL answers differently per viewer.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

from fastapi import Request, Response

PUBLIC = "public, no-cache"
PRIVATE = "private, no-cache"
VARY = "Authorization, Cookie"


def strong_etag(kind: str, parts: Iterable[Any]) -> str:
    """A strong ETag of ``kind`` (``"course"``, ``"catalog"``, ...) and the values that
    determine the representation (their ``repr``: datetimes keep their microseconds)."""
    digest = hashlib.blake2b(repr((kind, *parts)).encode(), digest_size=16).hexdigest()
    return f'"{kind[:1]}{digest}"'


def _opaque(tag: str) -> str:
    tag = tag.strip()
    return tag[2:] if tag.startswith("W/") else tag


def none_match(request: Request, etag: str) -> bool:
    """True when the request's ``If-None-Match`` matches ``etag``: ``*``, or any entity tag
    of the list by the weak comparison that RFC 9110 §13.1.2 prescribes for this header
    (``W/"x"`` matches ``"x"``)."""
    header = request.headers.get("if-none-match")
    if not header:
        return False
    if header.strip() == "*":
        return True
    wanted = _opaque(etag)
    return any(_opaque(tag) == wanted for tag in header.split(","))


def cache_headers(etag: str, *, public: bool) -> dict[str, str]:
    return {"ETag": etag, "Cache-Control": PUBLIC if public else PRIVATE, "Vary": VARY}


def set_cache_headers(response: Response, etag: str, *, public: bool) -> None:
    """Mark a full (200) response with its validator and caching rules."""
    response.headers.update(cache_headers(etag, public=public))
    # The gzip middleware may append Accept-Encoding to this Vary; it never drops ours.


def not_modified(etag: str, *, public: bool) -> Response:
    """The 304 for a matching ``If-None-Match``: no body, the same validator and rules."""
    return Response(status_code=304, headers=cache_headers(etag, public=public))
