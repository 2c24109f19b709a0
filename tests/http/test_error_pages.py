"""Error pages are whole site pages: navigation, the signed-in user and a way back — for
403, 404, 409, 422 and CSRF failures, signed in and anonymous (a rolled-back request must
not lose who is signed in)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from campus.config import Settings
from campus.errors import Conflict
from campus.http.deps import SessionDep
from campus.http.identity import OptionalUser
from campus.http.web import WebPage
from campus.main import create_app
from campus.models.accounts import UserRole
from tests.conftest import on_test_transaction
from tests.factories import DEFAULT_PASSWORD, auth_headers, create_user
from tests.pagehelpers import HTML, page_csrf, sign_in


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


# --- bad query values keep the site; the README's sorts work --------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/tasks?sort=priority",
        "/tasks?sort=-priority",
        "/tasks?sort=due_date",
        "/tasks?status=bogus",
        "/tasks?priority=urgent&sort=nonsense",
        "/?level=expert",
        "/?price=lots",
    ],
)
async def test_unknown_filters_on_pages_are_ignored_not_errors(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, path: str
) -> None:
    user = await create_user(session, settings, full_name="Grace Hopper")
    await sign_in(client, user.email, DEFAULT_PASSWORD)
    response = await client.get(path, headers=HTML)
    assert response.status_code == 200, response.text[:300]
    assert_site_page(response.text, signed_in_as="Grace Hopper")


async def test_the_board_sorts_by_priority_rank(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    user = await create_user(session, settings, full_name="Grace Hopper")
    headers = await auth_headers(session, settings, user)
    for title, priority in [("Mid task", "medium"), ("Low task", "low"), ("High task", "high")]:
        created = await client.post(
            "/api/v1/tasks", json={"title": title, "priority": priority}, headers=headers
        )
        assert created.status_code == 201
    await sign_in(client, user.email, DEFAULT_PASSWORD)
    ascending = (await client.get("/tasks?sort=priority", headers=HTML)).text
    assert '<option value="priority" selected' in ascending  # the form shows the order used
    assert ascending.index("Low task") < ascending.index("Mid task") < ascending.index("High task")
    descending = (await client.get("/tasks?sort=-priority", headers=HTML)).text
    assert descending.index("High task") < descending.index("Mid task")


@pytest.mark.parametrize("path", ["/?p=0", "/tasks?p=abc", "/courses/1/lessons/x"])
async def test_a_bad_value_a_page_cannot_ignore_is_a_422_site_page(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, path: str
) -> None:
    user = await create_user(session, settings, full_name="Grace Hopper")
    await sign_in(client, user.email, DEFAULT_PASSWORD)
    response = await client.get(path, headers=HTML)
    assert response.status_code == 422
    assert_site_page(response.text, signed_in_as="Grace Hopper")
    assert "not valid" in response.text  # says what was wrong
    anonymous = await httpx.AsyncClient(
        transport=client._transport, base_url="http://testserver"
    ).get(path, headers=HTML)
    if anonymous.status_code == 422:
        assert_site_page(anonymous.text, signed_in_as=None)


# --- 409, 429 and 500 pages ----------------------------------------------------------------


@pytest.fixture
async def limited_client(
    settings: Settings, connection: AsyncConnection
) -> AsyncIterator[httpx.AsyncClient]:
    app = on_test_transaction(
        create_app(settings.model_copy(update={"rate_limits_enabled": True})), connection
    )
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        ) as c:
            yield c
    finally:
        await app.state.database.dispose()


async def test_a_rate_limited_sign_in_page_keeps_the_site(
    limited_client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    user = await create_user(session, settings)
    token = await page_csrf(limited_client, "/login")
    statuses = []
    for _ in range(7):
        response = await limited_client.post(
            "/login",
            data={"email": user.email, "password": "wrong-password", "csrf_token": token},
            headers=HTML,
        )
        statuses.append(response.status_code)
    assert statuses[-1] == 429, statuses
    assert response.headers["content-type"].startswith("text/html")
    assert int(response.headers["retry-after"]) >= 1
    assert_site_page(response.text, signed_in_as=None)


@pytest.fixture
async def exploding_client(
    settings: Settings, connection: AsyncConnection
) -> AsyncIterator[httpx.AsyncClient]:
    """The app with a page that fails unexpectedly (as a bug would) and one whose write
    conflicts (a 409 no form handles), both after the page dependencies ran."""
    app = on_test_transaction(create_app(settings), connection)

    async def boom(page: WebPage, session: SessionDep) -> None:
        raise RuntimeError("a bug")

    async def conflict(page: WebPage, user: OptionalUser) -> None:
        raise Conflict("Someone changed this meanwhile.", code="conflict")

    app.add_api_route("/boom", boom, include_in_schema=False)
    app.add_api_route("/conflict", conflict, include_in_schema=False)
    try:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c
    finally:
        await app.state.database.dispose()


async def test_a_conflict_page_is_a_site_page(
    exploding_client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    anonymous = await exploding_client.get("/conflict", headers=HTML)
    assert anonymous.status_code == 409
    assert_site_page(anonymous.text, signed_in_as=None)
    assert "Someone changed this meanwhile." in anonymous.text
    user = await create_user(session, settings, full_name="Grace Hopper")
    await sign_in(exploding_client, user.email, DEFAULT_PASSWORD)
    signed_in = await exploding_client.get("/conflict", headers=HTML)
    assert signed_in.status_code == 409
    assert_site_page(signed_in.text, signed_in_as="Grace Hopper")


async def test_an_unexpected_error_page_is_a_site_page(
    exploding_client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    anonymous = await exploding_client.get("/boom", headers=HTML)
    assert anonymous.status_code == 500
    assert_site_page(anonymous.text, signed_in_as=None)
    assert "Request id" in anonymous.text
    assert "a bug" not in anonymous.text
    user = await create_user(session, settings, full_name="Grace Hopper")
    await sign_in(exploding_client, user.email, DEFAULT_PASSWORD)
    signed_in = await exploding_client.get("/boom", headers=HTML)
    assert signed_in.status_code == 500
    assert_site_page(signed_in.text, signed_in_as="Grace Hopper")


@pytest.mark.parametrize(("role", "path"), [(UserRole.STUDENT, "/teach")])
async def test_a_forbidden_page_keeps_the_site_for_each_status(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, role: UserRole, path: str
) -> None:
    user = await create_user(session, settings, role=role, full_name="Grace Hopper")
    await sign_in(client, user.email, DEFAULT_PASSWORD)
    response = await client.get(path, headers=HTML)
    assert response.status_code == 403
    assert_site_page(response.text, signed_in_as="Grace Hopper")
    assert "403" in response.text
