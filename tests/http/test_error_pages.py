"""Error pages are whole site pages: navigation, the signed-in user and a way back — for
403, 404, 409, 422 and CSRF failures, signed in and anonymous (a rolled-back request must
not lose who is signed in)."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from campus.config import Settings
from campus.models.accounts import UserRole
from tests.factories import DEFAULT_PASSWORD, create_user
from tests.pagehelpers import HTML, sign_in


def assert_site_page(html: str, *, signed_in_as: str | None) -> None:
    assert '<header class="site-header">' in html
    assert 'href="/"' in html  # a way back
    assert "<h1>" not in html[:200]  # not the bare fallback
    if signed_in_as is None:
        assert 'href="/login"' in html
        assert "Sign out" not in html
    else:
        assert signed_in_as in html
        assert "Sign out" in html
        assert 'href="/cabinet"' in html


@pytest.mark.parametrize(
    ("role", "path", "status"),
    [
        (UserRole.STUDENT, "/teach", 403),
        (UserRole.TEACHER, "/admin/users", 403),
        (UserRole.STUDENT, "/courses/987654", 404),
        (UserRole.STUDENT, "/no/such/page", 404),
        (UserRole.STUDENT, "/courses/not-a-number", 422),
    ],
)
async def test_signed_in_error_pages_keep_the_site_and_the_user(
    client: httpx.AsyncClient,
    session: AsyncSession,
    settings: Settings,
    role: UserRole,
    path: str,
    status: int,
) -> None:
    user = await create_user(session, settings, role=role, full_name="Grace Hopper")
    await sign_in(client, user.email, DEFAULT_PASSWORD)
    response = await client.get(path, headers=HTML)
    assert response.status_code == status
    assert response.headers["content-type"].startswith("text/html")
    assert_site_page(response.text, signed_in_as="Grace Hopper")


async def test_csrf_failure_page_keeps_the_user(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    user = await create_user(session, settings, full_name="Grace Hopper")
    await sign_in(client, user.email, DEFAULT_PASSWORD)
    response = await client.post("/tasks", data={"title": "x"}, headers=HTML)
    assert response.status_code == 403
    assert "Form expired" in response.text
    assert_site_page(response.text, signed_in_as="Grace Hopper")


@pytest.mark.parametrize(("path", "status"), [("/courses/987654", 404), ("/no/such/page", 404)])
async def test_anonymous_error_pages_offer_sign_in(
    client: httpx.AsyncClient, path: str, status: int
) -> None:
    response = await client.get(path, headers=HTML)
    assert response.status_code == status
    assert_site_page(response.text, signed_in_as=None)


async def test_a_page_asks_an_anonymous_browser_to_sign_in_whatever_it_accepts(
    client: httpx.AsyncClient,
) -> None:
    for headers in (HTML, {"Accept": "*/*"}, {}):
        response = await client.get("/tasks?status=todo", headers=headers)
        assert response.status_code == 303
        assert response.headers["location"] == "/login?next=/tasks%3Fstatus%3Dtodo"
    api = await client.get("/api/v1/tasks", headers=HTML)
    assert api.status_code == 401
    assert api.headers["content-type"].startswith("application/problem+json")
