"""The ONLY place where errors become HTTP: RFC 9457 problem+json or an HTML error page.

The problem is English (for developers); the HTML error page is in the page's language:
its title by status, its detail the marked message's translation (``CampusError.localized``).
"""

from __future__ import annotations

import asyncio
import http
from collections.abc import Mapping
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import HTMLResponse, RedirectResponse, Response

from campus.db import DatabaseFault, database_fault, is_foreign_key_violation, is_unique_violation
from campus.errors import (
    CampusError,
    Conflict,
    Forbidden,
    ServiceUnavailable,
    Unauthenticated,
    ValidationFailed,
)
from campus.http.deps import get_session
from campus.http.identity import SESSION_COOKIE
from campus.http.net import is_https
from campus.http.web import load_page_state, login_url, page_state, request_locale, templates
from campus.kit import i18n
from campus.kit.i18n import N_
from campus.log import get_logger

PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_BASE = "/problems/"
SECRET_FIELDS = frozenset(
    {"password", "new_password", "current_password", "token", "refresh_token", "access_token"}
)

logger = get_logger("campus.http")
busy_logger = get_logger("campus.db")


# The titles of the statuses Campus answers with (also those raised by the framework,
# e.g. an unknown path's 404 or a 405), marked for the error page.
STATUS_TITLES: dict[int, str] = {
    400: N_("Bad Request"),
    401: N_("Unauthorized"),
    402: N_("Payment Required"),
    403: N_("Forbidden"),
    404: N_("Not Found"),
    405: N_("Method Not Allowed"),
    409: N_("Conflict"),
    413: N_("Content Too Large"),
    415: N_("Unsupported Media Type"),
    422: N_("Unprocessable Content"),
    429: N_("Too Many Requests"),
    500: N_("Internal Server Error"),
    502: N_("Bad Gateway"),
    503: N_("Service Unavailable"),
}


def status_title(status: int) -> str:
    """The reason phrase of ``status`` (``Not Found``), marked when Campus answers with it."""
    if status in STATUS_TITLES:
        return STATUS_TITLES[status]
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def problem_type(code: str | None) -> str:
    return PROBLEM_BASE + code if code else "about:blank"


def problem_payload(
    *,
    status: int,
    instance: str,
    detail: str | None = None,
    code: str | None = None,
    title: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    default_title = status_title(status)
    body: dict[str, Any] = {
        "type": problem_type(code),
        "title": title or default_title,
        "status": status,
        "detail": detail or title or default_title,
        "instance": instance,
    }
    body.update(extra)
    return body


def problem_response(
    payload: dict[str, Any], *, status: int | None = None, headers: dict[str, str] | None = None
) -> Response:
    return Response(
        content=orjson.dumps(payload),
        status_code=status or int(payload["status"]),
        media_type=PROBLEM_CONTENT_TYPE,
        headers=headers,
    )


NOT_PAGES = ("/api/", "/health", "/metrics", "/openapi.json", "/docs", "/redoc", "/static/")


def is_page_path(path: str) -> bool:
    """A route of the site (HTML pages), not of the API or of operations."""
    return not path.startswith(NOT_PAGES)


def wants_html(path: str, accept: str) -> bool:
    """Browsers on page routes get HTML; ``/api/`` always answers problem+json."""
    return is_page_path(path) and "text/html" in accept


async def _error_viewer(request: Request, status: int) -> None:
    """Who is signed in, for an error raised before any page dependency asked (e.g. an
    unknown path): the header of the error page still shows them. Best effort, bounded,
    never for a 5xx (the database may be why it failed)."""
    if status >= 500 or page_state(request) is not None:
        return
    if getattr(request.state, "error_viewer", None) is not None:
        return
    if not request.cookies.get(SESSION_COOKIE):
        return
    if getattr(request.app.state, "identity", None) is None:
        return
    # The app's own session provider (tests bind it to their transaction).
    provider = request.app.dependency_overrides.get(get_session, get_session)
    sessions = provider(request)
    try:
        async with asyncio.timeout(2):
            session = await anext(sessions)
            # The whole page state, as a page would have it: the header's sign-out form
            # needs its CSRF token and the bell its count.
            state = await load_page_state(request, session, request.app.state.settings)
    except Exception:
        logger.warning("error_page_viewer_failed", exc_info=True)
        return
    finally:
        await sessions.aclose()
    request.state.error_viewer = state.viewer


async def html_error_response(
    request: Request,
    *,
    status: int,
    title: str,
    detail: str,
    headers: dict[str, str] | None = None,
    code: str | None = None,
    variables: Mapping[str, object] | None = None,
) -> Response:
    """The error page, in the page's language: ``title`` and ``detail`` are the English
    messages as marked (``detail`` a template filled in from ``variables``)."""
    await _error_viewer(request, status)
    if page_state(request) is None:  # the page layer had not settled it: the viewer's, else
        i18n.set_locale(request_locale(request, getattr(request.state, "error_viewer", None)))
    title = i18n.gettext(title)
    detail = i18n.translate(detail, variables)
    try:
        return templates.TemplateResponse(
            request,
            "error.html",
            {"status": status, "title": title, "detail": detail, "error": True, "code": code},
            status_code=status,
            headers=headers,
        )
    except Exception:  # the error page must never fail itself
        logger.exception("error_page_failed")
        return HTMLResponse(f"<h1>{status} {title}</h1>", status_code=status, headers=headers)


def _clean_validation_errors(errors: Any) -> list[dict[str, Any]]:
    cleaned: list[dict[str, Any]] = []
    for err in errors:
        loc = [part for part in err.get("loc", ()) if isinstance(part, str | int)]
        item: dict[str, Any] = {"loc": loc, "msg": str(err.get("msg", "")), "type": err.get("type")}
        cleaned.append(item)
    return cleaned


async def _render(
    request: Request,
    *,
    status: int,
    detail: str,
    code: str | None,
    title: str | None = None,
    headers: dict[str, str] | None = None,
    variables: Mapping[str, object] | None = None,
    **extra: Any,
) -> Response:
    """``detail`` is the message as marked, filled in from ``variables``: in English for
    the API, in the page's language on the error page."""
    if wants_html(request.url.path, request.headers.get("accept", "")):
        return await html_error_response(
            request,
            status=status,
            title=title or status_title(status),
            detail=detail,
            headers=headers,
            code=code,
            variables=variables,
        )
    payload = problem_payload(
        status=status,
        instance=request.url.path,
        detail=i18n.english(detail, variables),
        code=code,
        title=title,
        **extra,
    )
    return problem_response(payload, headers=headers)


def _page_login_location(request: Request) -> str:
    target = request.url.path
    if request.url.query:
        target += "?" + request.url.query
    return login_url(target if request.method in ("GET", "HEAD") else "/")


async def campus_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, CampusError)
    if isinstance(exc, Unauthenticated) and is_page_path(request.url.path):
        # The one way a browser is asked to sign in: a page needs a signed-in user, so
        # sign in first, then come back here. A session cookie that no longer works (signed
        # out elsewhere, password changed, account disabled) is removed and the sign-in
        # page says why the browser is there.
        location = _page_login_location(request)
        if not request.cookies.get(SESSION_COOKIE):
            return RedirectResponse(location, status_code=303)
        ended = RedirectResponse(
            location + ("&" if "?" in location else "?") + "ended=1", status_code=303
        )
        secure = is_https(request.scope, request.app.state.settings.trusted_proxies)
        ended.delete_cookie(SESSION_COOKIE, path="/", secure=secure, httponly=True, samesite="lax")
        return ended
    if isinstance(exc, Forbidden) and exc.code == "csrf-failed":
        # Page forms only: always the friendly HTML page, whatever the Accept header.
        return await html_error_response(
            request,
            status=403,
            title=N_("Form expired"),
            detail=exc.message,
            code=exc.code,
            variables=exc.variables,
        )
    extra = dict(exc.extra)
    if isinstance(exc, ValidationFailed):
        extra["errors"] = exc.errors
    return await _render(
        request,
        status=exc.status,
        detail=exc.message,
        code=exc.code,
        title=exc.title,
        headers=exc.headers,
        variables=exc.variables,
        **extra,
    )


async def validation_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = _clean_validation_errors(exc.errors())
    fields = ", ".join(".".join(str(p) for p in e["loc"]) for e in errors[:5])
    return await _render(
        request,
        status=422,
        detail=N_("The request is not valid: %(fields)s.")
        if fields
        else N_("The request is not valid."),
        code="validation-error",
        title=ValidationFailed.title,
        variables={"fields": fields} if fields else None,
        errors=errors,
    )


async def http_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    status = exc.status_code
    phrase = status_title(status)
    detail = exc.detail if isinstance(exc.detail, str) and exc.detail != phrase else None
    variables: dict[str, object] | None = None
    if detail is None and status == 405:
        detail, variables = N_("Method %(method)s is not allowed here."), {"method": request.method}
    elif detail is None:
        detail = N_("No such resource.") if status == 404 else phrase
    return await _render(
        request,
        status=status,
        detail=detail,
        code=None,
        title=phrase,
        headers=dict(exc.headers or {}),
        variables=variables,
    )


def unexpected_error_payload(instance: str, request_id: str) -> dict[str, Any]:
    return problem_payload(
        status=500,
        instance=instance,
        code="internal-error",
        title="Internal Server Error",
        detail=f"An unexpected error occurred. Request id: {request_id}.",
        request_id=request_id,
    )


async def pool_timeout_handler(request: Request, exc: Exception) -> Response:
    """Every database connection stayed busy for ``CAMPUS_DB_POOL_TIMEOUT_SECONDS``: a 503
    the client may retry, not a 500 (nothing failed; the server is saturated)."""
    assert isinstance(exc, PoolTimeout)
    busy_logger.warning("db_pool_exhausted", path=request.url.path)
    return await campus_error_handler(
        request,
        ServiceUnavailable(
            "The server is busy; try again shortly.", code="busy", headers={"Retry-After": "1"}
        ),
    )


async def integrity_error_handler(request: Request, exc: Exception) -> Response:
    """The safety net for a write that lost a race no service anticipated: a row it refers
    to was deleted, or an equal one was inserted, by a concurrent request. A 409 the client
    may retry, not a 500. (Services turn the races they know of into their own 404/409.)
    Any other integrity error is a bug and stays a 500."""
    assert isinstance(exc, IntegrityError)
    if not (is_foreign_key_violation(exc) or is_unique_violation(exc)):
        raise exc
    busy_logger.warning("write_lost_a_race", path=request.url.path, error=str(exc.orig)[:200])
    return await campus_error_handler(
        request,
        Conflict("The request conflicts with a concurrent change; try again.", code="conflict"),
    )


# What a client is told when the database fails under a request (none of these is the
# request's fault; nothing it wrote was kept).
DATABASE_FAULTS: dict[DatabaseFault, tuple[str, str, int]] = {
    DatabaseFault.UNAVAILABLE: (
        "database-unavailable",
        "The database is unavailable; nothing was changed. Try again shortly.",
        2,
    ),
    DatabaseFault.BUSY: ("busy", "The server is busy; try again shortly.", 1),
    DatabaseFault.FULL: (
        "storage-full",
        "The server has run out of storage space; nothing was changed. Try again later.",
        60,
    ),
}


async def database_error_handler(request: Request, exc: Exception) -> Response:
    """A statement failed because of the database server (down, restarting, out of
    connections or disk): a 503 problem with ``Retry-After``, never a 500. Any other
    database error (integrity, data, a bug) is re-raised to the 500 safety net."""
    assert isinstance(exc, StatementError)
    fault = database_fault(exc)
    if fault is None:
        raise exc
    code, detail, retry_after = DATABASE_FAULTS[fault]
    cause = exc.orig if exc.orig is not None else exc
    busy_logger.warning(
        "db_fault",
        fault=fault.value,
        path=request.url.path,
        error=f"{type(cause).__name__}: {cause}"[:300],
    )
    return await campus_error_handler(
        request, ServiceUnavailable(detail, code=code, headers={"Retry-After": str(retry_after)})
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(PoolTimeout, pool_timeout_handler)
    app.add_exception_handler(IntegrityError, integrity_error_handler)
    app.add_exception_handler(StatementError, database_error_handler)
    app.add_exception_handler(CampusError, campus_error_handler)
    app.add_exception_handler(RequestValidationError, validation_error_handler)
    app.add_exception_handler(StarletteHTTPException, http_error_handler)
