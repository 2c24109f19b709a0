"""Helpers for page tests over httpx: CSRF tokens from forms, signing in through /login."""

from __future__ import annotations

import re

import httpx

HTML = {"Accept": "text/html,application/xhtml+xml"}
_CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_from(html: str) -> str:
    match = _CSRF_RE.search(html)
    assert match, "no csrf_token in the page"
    return match.group(1)


async def page_csrf(client: httpx.AsyncClient, path: str = "/login") -> str:
    response = await client.get(path, headers=HTML)
    assert response.status_code == 200, response.text
    return csrf_from(response.text)


async def sign_in(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    token = await page_csrf(client, "/login")
    response = await client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": token},
        headers=HTML,
    )
    assert response.status_code == 303, response.text
    return response


async def post_form(
    client: httpx.AsyncClient, path: str, data: dict[str, str], *, from_page: str | None = None
) -> httpx.Response:
    """POST a form with a CSRF token taken from ``from_page`` (default: the same path)."""
    token = await page_csrf(client, from_page or path)
    return await client.post(path, data={**data, "csrf_token": token}, headers=HTML)
