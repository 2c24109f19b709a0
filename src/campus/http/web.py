"""The web-page toolkit: cookie sessions, CSRF, flash messages and rendering.

Pages under ``campus/<domain>/pages.py`` stay thin: they take ``WebPage`` (how to render and
redirect), the same "who is asking" dependencies as the API (``campus.http.identity``:
``CurrentUser``, ``OptionalUser``, ``TeacherUser``, ``AdminUser``), parse forms with
``campus.http.forms`` into the API's schemas and call the same services.

- **Session**: the ``campus_session`` cookie holds an opaque random id of a server-side
  ``auth_sessions`` row of kind ``web`` (checked by the accounts domain's identity provider).
  HttpOnly, SameSite=Lax, Path=/, Secure over HTTPS. The JSON API never reads it.
- **CSRF**: every unsafe request to a page router needs a token (form field ``csrf_token``
  or header ``X-CSRF-Token``) derived from the browser's session: the web session's
  ``csrf_secret`` when signed in, else a signed pre-session cookie ``campus_csrf``. Tokens
  are masked with a fresh random pad on every render (no fixed secret in compressed pages).
- **Flash**: one message in a signed cookie, set on a redirect and shown by the next page.
- **Language**: :func:`load_page_state` settles the locale of the page
  (``campus.kit.i18n.choose_locale``: the signed-in user's saved one, else the
  ``campus_locale`` cookie of the footer's switcher, else ``Accept-Language``, else
  English) and makes it the locale in progress, which templates, ``gettext`` in page code
  and mails rendered during the request read.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any
from urllib.parse import quote, urlsplit

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.datastructures import FormData

from campus.config import Settings
from campus.errors import Forbidden
from campus.http.deps import SAFE_METHODS, SessionDep, SettingsDep, cursor_codec
from campus.http.identity import (
    SESSION_COOKIE,
    Identity,
    Viewer,
    resolve_identity,
    resolved_viewer,
)
from campus.http.net import client_ip, is_https
from campus.http.templates import TEMPLATES_DIR, install_filters
from campus.kit import i18n
from campus.kit.i18n import N_
from campus.kit.pagination.envelope import PageResult
from campus.kit.pagination.params import PageParams, make_page_params, numbered_page
from campus.models.accounts import User

PRESESSION_COOKIE = "campus_csrf"
FLASH_COOKIE = "campus_flash"
LOCALE_COOKIE = "campus_locale"
LOCALE_COOKIE_MAX_AGE = 365 * 24 * 3600
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
_PAD_BYTES = 32
FLASH_KINDS = frozenset({"success", "info", "error"})
CSRF_FAILED = N_(
    "This form has expired or did not come from this site, so it was not sent. "
    "Go back, reload the page and try again."
)


# --- signing helpers -----------------------------------------------------------------------


def _sign(settings: Settings, purpose: str, value: str) -> str:
    mac = hmac.new(settings.secret_key.encode(), f"{purpose}:{value}".encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()).decode().rstrip("=")


def _signed(settings: Settings, purpose: str, value: str) -> str:
    return f"{value}.{_sign(settings, purpose, value)}"


def _unsigned(settings: Settings, purpose: str, signed: str | None) -> str | None:
    if not signed or len(signed) > 4096 or "." not in signed:
        return None
    value, _, signature = signed.rpartition(".")
    if hmac.compare_digest(signature, _sign(settings, purpose, value)):
        return value
    return None


def _csrf_key(settings: Settings, secret: str) -> bytes:
    return hmac.new(
        settings.secret_key.encode(), f"csrf:{secret}".encode(), hashlib.sha256
    ).digest()


def mask_csrf_token(key: bytes) -> str:
    """A token for ``key``: a fresh random pad and the key XOR the pad (differs every time)."""
    pad = secrets.token_bytes(_PAD_BYTES)
    masked = bytes(a ^ b for a, b in zip(pad, key, strict=True))
    return base64.urlsafe_b64encode(pad + masked).decode().rstrip("=")


def csrf_token_matches(key: bytes, token: str | None) -> bool:
    if not token or len(token) > 200:
        return False
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (ValueError, TypeError):
        return False
    if len(raw) != 2 * _PAD_BYTES:
        return False
    pad, masked = raw[:_PAD_BYTES], raw[_PAD_BYTES:]
    return hmac.compare_digest(bytes(a ^ b for a, b in zip(pad, masked, strict=True)), key)


def safe_next(value: str | None, default: str = "/") -> str:
    """A local path to go to after sign-in; anything else (``//evil``, ``https:``) -> default."""
    if not value or len(value) > 1000 or not value.startswith("/") or value.startswith("//"):
        return default
    if "\\" in value or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value):
        return default
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return default
    return value


def login_url(next_path: str | None) -> str:
    target = safe_next(next_path, "")
    return "/login" + (f"?next={quote(target, safe='/')}" if target and target != "/" else "")


# --- the per-request page state -----------------------------------------------------------


@dataclass
class _Cookie:
    name: str
    value: str | None  # None deletes
    max_age: int | None = None


@dataclass
class PageState:
    """What the page dependencies learned about this request (kept on ``request.state``)."""

    settings: Settings
    identity: Identity | None = None
    csrf_key: bytes = b""
    # What the header of every page shows beyond the viewer (e.g. the notification bell's
    # count), from the domains' ``header_context`` hooks (``app.state.page_header_hooks``).
    header: dict[str, Any] = field(default_factory=dict)
    cookies: list[_Cookie] = field(default_factory=list)
    locale: str = i18n.DEFAULT_LOCALE
    _token: str | None = None

    @property
    def user(self) -> User | None:
        return self.identity.user if self.identity is not None else None

    @property
    def viewer(self) -> Viewer | None:
        return self.identity.viewer if self.identity is not None else None

    def csrf_token(self) -> str:
        if self._token is None:
            self._token = mask_csrf_token(self.csrf_key)
        return self._token


def visitor_locale(cookies: Mapping[str, str], accept_language: str | None) -> str:
    """The locale of a visitor (nobody signed in, or before we know): the switcher's
    cookie, else ``Accept-Language``, else English."""
    return i18n.choose_locale(None, cookies.get(LOCALE_COOKIE), accept_language)


def request_locale(request: Request, viewer: Viewer | None = None) -> str:
    """The locale of this request: the viewer's saved one first (:func:`visitor_locale`
    otherwise)."""
    return i18n.choose_locale(
        viewer.locale if viewer is not None else None,
        request.cookies.get(LOCALE_COOKIE),
        request.headers.get("accept-language"),
    )


def page_state(request: Request) -> PageState | None:
    state = getattr(request.state, "page", None)
    return state if isinstance(state, PageState) else None


async def load_page_state(
    request: Request, session: SessionDep, settings: SettingsDep
) -> PageState:
    """Who is asking (from the session cookie) and the CSRF key of this browser."""
    existing = page_state(request)
    if existing is not None:
        return existing
    state = PageState(settings=settings)
    cookie = request.cookies.get(SESSION_COOKIE, "")
    state.identity = await resolve_identity(request, session, None)
    if state.identity is not None:
        secret = state.identity.csrf_secret or state.identity.session_id
        state.csrf_key = _csrf_key(settings, "session:" + secret)
        for hook in getattr(request.app.state, "page_header_hooks", ()):
            state.header.update(await hook(session, state.identity.user))
    else:
        if cookie:
            state.cookies.append(_Cookie(SESSION_COOKIE, None))  # ended or unknown session
        presession = _unsigned(settings, "presession", request.cookies.get(PRESESSION_COOKIE))
        if presession is None:
            presession = secrets.token_urlsafe(24)
            signed = _signed(settings, "presession", presession)
            state.cookies.append(_Cookie(PRESESSION_COOKIE, signed))
        state.csrf_key = _csrf_key(settings, "presession:" + presession)
    state.locale = request_locale(request, state.viewer)
    i18n.set_locale(state.locale)  # the middleware resets it when the request ends
    request.state.page = state
    return state


PageStateDep = Annotated[PageState, Depends(load_page_state)]


async def csrf_protect(request: Request, state: PageStateDep) -> None:
    """Every unsafe request to a page router carries a valid CSRF token, else 403."""
    if request.method in SAFE_METHODS:
        return
    token = request.headers.get(CSRF_HEADER)
    if not token and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()
        value = form.get(CSRF_FIELD)
        token = value if isinstance(value, str) else None
    if not csrf_token_matches(state.csrf_key, token):
        raise Forbidden(CSRF_FAILED, code="csrf-failed")


def page_router(**kwargs: Any) -> APIRouter:
    """A router for HTML pages: hidden from OpenAPI, every unsafe request CSRF-checked."""
    return APIRouter(
        include_in_schema=False,
        default_response_class=HTMLResponse,
        dependencies=[Depends(csrf_protect)],
        **kwargs,
    )


# --- paging ----------------------------------------------------------------------------------


def page_params(number: int, size: int, *, sort: str) -> PageParams:
    """The page ``number`` (1-based) of ``size`` rows in order ``sort``, as the API's list
    parameters: pages pass these to the same services as the API, and read the page count
    from the result (``PageResult.pages``)."""
    fields = tuple(part.strip().lstrip("-") for part in sort.split(",") if part.strip())
    return numbered_page(number, size=size, sort=sort, allowed=fields, default=sort)


# --- rendering ------------------------------------------------------------------------------


class WebPageContext:
    """Render templates and redirect, applying the cookies this request must set."""

    def __init__(self, request: Request, state: PageState) -> None:
        self.request = request
        self.state = state

    @property
    def user(self) -> User | None:
        return self.state.user

    @property
    def settings(self) -> Settings:
        return self.state.settings

    @property
    def client_ip(self) -> str:
        return client_ip(self.request.scope, self.settings.trusted_proxies)

    @property
    def user_agent(self) -> str | None:
        return self.request.headers.get("user-agent")

    @property
    def session_cookie(self) -> str:
        return self.request.cookies.get(SESSION_COOKIE, "")

    async def form(self) -> FormData:
        return await self.request.form()

    def keyset_params(self, size: int, *, sort: str, cursor: str | None) -> PageParams:
        """The first ``size`` rows in order ``sort``, or those after ``cursor`` (a "load
        older" link made by :meth:`next_cursor`); a bad cursor is a 422."""
        fields = tuple(part.strip().lstrip("-") for part in sort.split(",") if part.strip())
        return make_page_params(
            skip=0,
            limit=size,
            sort=sort,
            allowed=fields,
            default=sort,
            cursor=cursor,
            codec=cursor_codec(self.request),
        )

    def next_cursor(self, result: PageResult[Any]) -> str | None:
        """The signed cursor of the page after ``result`` ("load older"), if there is one."""
        if result.next_keyset is None:
            return None
        return cursor_codec(self.request).encode(result.next_keyset)

    def render(
        self,
        template: str,
        context: Mapping[str, Any] | None = None,
        *,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        response = templates.TemplateResponse(
            self.request, template, dict(context or {}), status_code=status_code
        )
        for name, value in (headers or {}).items():
            if name.lower() != "www-authenticate":  # a page is not a bearer challenge
                response.headers[name] = value
        if self.request.cookies.get(FLASH_COOKIE):
            self.state.cookies.append(_Cookie(FLASH_COOKIE, None))
        response.headers["Cache-Control"] = "no-store"
        self._apply_cookies(response)
        return response

    def redirect(self, url: str, *, flash: str | None = None, kind: str = "success") -> Response:
        """POST/redirect/GET: 303 to ``url`` (a local path), with an optional flash message."""
        response = RedirectResponse(safe_next(url), status_code=303)
        if flash:
            self.flash(flash, kind=kind)
        self._apply_cookies(response)
        return response

    def flash(self, text: str, *, kind: str = "success") -> None:
        payload = json.dumps({"kind": kind if kind in FLASH_KINDS else "info", "text": text[:300]})
        value = base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")
        self.state.cookies = [c for c in self.state.cookies if c.name != FLASH_COOKIE]
        self.state.cookies.append(_Cookie(FLASH_COOKIE, _signed(self.settings, "flash", value)))

    def sign_in(self, cookie_value: str, *, max_age: int) -> None:
        """Set the new session cookie (a new id at every sign-in)."""
        self.state.cookies.append(_Cookie(SESSION_COOKIE, cookie_value, max_age))

    def sign_out(self) -> None:
        self.state.cookies.append(_Cookie(SESSION_COOKIE, None))

    @property
    def locale(self) -> str:
        return self.state.locale

    def remember_locale(self, locale: str) -> None:
        """The switcher's choice for this browser (a year), and this request's locale."""
        self.state.cookies.append(_Cookie(LOCALE_COOKIE, locale, LOCALE_COOKIE_MAX_AGE))
        self.state.locale = locale
        i18n.set_locale(locale)

    def _apply_cookies(self, response: Response) -> None:
        secure = is_https(self.request.scope, self.settings.trusted_proxies)
        seen: dict[str, _Cookie] = {}
        for cookie in self.state.cookies:
            seen[cookie.name] = cookie  # the last word on each cookie wins
        for cookie in seen.values():
            if cookie.value is None:
                response.delete_cookie(
                    cookie.name, path="/", secure=secure, httponly=True, samesite="lax"
                )
            else:
                response.set_cookie(
                    cookie.name,
                    cookie.value,
                    max_age=cookie.max_age,
                    path="/",
                    secure=secure,
                    httponly=True,
                    samesite="lax",
                )
        self.state.cookies.clear()


def read_flash(request: Request, settings: Settings) -> dict[str, str] | None:
    value = _unsigned(settings, "flash", request.cookies.get(FLASH_COOKIE))
    if value is None:
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))
    except (ValueError, TypeError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("text"), str):
        return None
    kind = data.get("kind")
    return {"kind": kind if kind in FLASH_KINDS else "info", "text": data["text"]}


def browser_context(request: Request, settings: Settings) -> WebPageContext:
    """Page-style answers (the session cookie, a flash message, a local redirect) for a
    route outside the page routers that ends a browser's journey, e.g. the OAuth callback
    under ``/api/``: no identity is resolved and no CSRF key is made."""
    return WebPageContext(request, PageState(settings=settings))


async def get_web_page(request: Request, state: PageStateDep) -> WebPageContext:
    return WebPageContext(request, state)


WebPage = Annotated[WebPageContext, Depends(get_web_page)]


def page_context(request: Request) -> dict[str, Any]:
    """Jinja context processor: the signed-in user (a plain ``Viewer``), a CSRF token, the
    flash message."""
    state = page_state(request)
    settings: Settings | None = state.settings if state else None
    if settings is None:
        settings = getattr(request.app.state, "settings", None)
    viewer = (
        state.viewer
        if state
        else getattr(request.state, "error_viewer", None) or resolved_viewer(request)
    )
    query = request.url.query
    return {
        "current_user": viewer,
        "csrf_token": state.csrf_token() if state and state.csrf_key else "",
        "flash": read_flash(request, settings) if settings else None,
        "nav_path": request.url.path,
        # The language switcher of the footer: the locales, this one, and where to come back.
        "locale": i18n.current_locale(),
        "locales": i18n.LOCALES,
        "here": request.url.path + (f"?{query}" if query else ""),
        **(state.header if state else {}),
    }


templates = Jinja2Templates(directory=TEMPLATES_DIR, context_processors=[page_context])
install_filters(templates.env)
