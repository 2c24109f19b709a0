"""§10 over HTTP: cookie sessions, CSRF, redirects, form errors, flash messages."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from campus.accounts.service import sessions
from campus.config import Settings
from campus.http.web import csrf_token_matches, mask_csrf_token, safe_next
from campus.kit.markdown import render as render_markdown
from tests.factories import DEFAULT_PASSWORD, create_user
from tests.pagehelpers import HTML, csrf_from, page_csrf, post_form, sign_in


async def test_login_sets_a_hardened_session_cookie(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    user = await create_user(session, settings, full_name="Grace Hopper")
    response = await sign_in(client, user.email, DEFAULT_PASSWORD)
    assert response.headers["location"] == "/"
    cookies = response.headers.get_list("set-cookie")
    session_cookie = next(c for c in cookies if c.startswith("campus_session="))
    lowered = session_cookie.lower()
    assert "httponly" in lowered
    assert "samesite=lax" in lowered
    assert "path=/" in lowered
    assert "secure" not in lowered  # plain HTTP here; see the HTTPS test
    home = await client.get("/", headers=HTML)
    assert "Grace Hopper" in home.text
    assert "Signed in as Grace Hopper." in home.text  # the flash message, shown once
    again = await client.get("/", headers=HTML)
    assert "Signed in as Grace Hopper." not in again.text


async def test_every_sign_in_gets_a_new_opaque_session_id(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    user = await create_user(session, settings)
    await sign_in(client, user.email, DEFAULT_PASSWORD)
    first = client.cookies.get("campus_session")
    client.cookies.delete("campus_session")
    await sign_in(client, user.email, DEFAULT_PASSWORD)
    second = client.cookies.get("campus_session")
    assert first
    assert second
    assert first != second
    assert first.count(".") == 0  # opaque: not a JWT nor a signed user id
    assert len(first) >= 40


async def test_session_cookie_is_secure_over_https(
    app: FastAPI, client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    user = await create_user(session, settings)
    secure_client = httpx.AsyncClient(transport=client._transport, base_url="https://testserver")
    async with secure_client:
        response = await sign_in(secure_client, user.email, DEFAULT_PASSWORD)
    cookie = next(
        c for c in response.headers.get_list("set-cookie") if c.startswith("campus_session=")
    )
    assert "secure" in cookie.lower()


async def test_json_api_does_not_accept_the_page_cookie(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    user = await create_user(session, settings)
    await sign_in(client, user.email, DEFAULT_PASSWORD)
    assert client.cookies.get("campus_session")
    me = await client.get("/api/v1/auth/me")
    assert me.status_code == 401
    assert me.headers["content-type"].startswith("application/problem+json")


async def test_post_without_csrf_token_is_a_friendly_403(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    user = await create_user(session, settings)
    response = await client.post(
        "/login", data={"email": user.email, "password": DEFAULT_PASSWORD}, headers=HTML
    )
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("text/html")
    assert "Form expired" in response.text
    assert "campus_session" not in response.headers.get("set-cookie", "")
    forged = await client.post(
        "/login",
        data={"email": user.email, "password": DEFAULT_PASSWORD, "csrf_token": "x" * 86},
        headers=HTML,
    )
    assert forged.status_code == 403


async def test_csrf_token_is_bound_to_the_browser(
    app: FastAPI, client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    """A token from one browser does not work in another (nor after signing in)."""
    user = await create_user(session, settings)
    attacker_token = await page_csrf(client, "/login")
    victim = httpx.AsyncClient(transport=client._transport, base_url="http://testserver")
    async with victim:
        await victim.get("/login", headers=HTML)  # the victim has their own pre-session
        response = await victim.post(
            "/login",
            data={"email": user.email, "password": DEFAULT_PASSWORD, "csrf_token": attacker_token},
            headers=HTML,
        )
        assert response.status_code == 403
        await sign_in(victim, user.email, DEFAULT_PASSWORD)
        # The anonymous token of the same browser no longer works once signed in.
        old = await victim.post("/logout", data={"csrf_token": attacker_token}, headers=HTML)
        assert old.status_code == 403
        token = await page_csrf(victim, "/logout")
        by_header = await victim.post("/logout", headers={**HTML, "X-CSRF-Token": token})
        assert by_header.status_code == 303


async def test_logout_ends_the_server_side_session(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    user = await create_user(session, settings, full_name="Linus")
    await sign_in(client, user.email, DEFAULT_PASSWORD)
    stolen = client.cookies.get("campus_session")
    page = await client.get("/logout", headers=HTML)
    assert page.status_code == 200
    assert 'method="post" action="/logout"' in page.text
    response = await client.post("/logout", data={"csrf_token": csrf_from(page.text)}, headers=HTML)
    assert response.status_code == 303
    assert response.headers["location"] == "/"
    # The old cookie value replayed later is dead on the server.
    replay = httpx.AsyncClient(
        transport=client._transport,
        base_url="http://testserver",
        cookies={"campus_session": stolen or ""},
    )
    async with replay:
        home = await replay.get("/logout", headers=HTML, follow_redirects=False)
        assert home.status_code == 303  # anonymous: nothing to sign out of
        assert "Linus" not in (await replay.get("/", headers=HTML)).text


async def test_deactivation_and_password_change_end_web_sessions(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    user = await create_user(session, settings, full_name="Margaret")
    await sign_in(client, user.email, DEFAULT_PASSWORD)
    assert "Margaret" in (await client.get("/", headers=HTML)).text
    await sessions.end_all_sessions(session, user_id=user.id)
    await session.flush()
    assert "Margaret" not in (await client.get("/", headers=HTML)).text

    await sign_in(client, user.email, DEFAULT_PASSWORD)
    assert "Margaret" in (await client.get("/", headers=HTML)).text
    user.is_active = False
    await session.flush()
    assert "Margaret" not in (await client.get("/", headers=HTML)).text


async def test_an_ended_session_is_explained_on_the_sign_in_page(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    user = await create_user(session, settings, full_name="Grace")
    await sign_in(client, user.email, DEFAULT_PASSWORD)
    assert (await client.get("/cabinet", headers=HTML)).status_code == 200
    user.is_active = False  # an admin disabled the account
    await session.flush()

    sent = await client.get("/cabinet", headers=HTML)
    assert sent.status_code == 303
    assert sent.headers["location"] == "/login?next=/cabinet&ended=1"
    assert 'campus_session=""' in sent.headers["set-cookie"]  # the dead cookie goes
    login = await client.get(sent.headers["location"], headers=HTML)
    assert "Your session has ended" in login.text
    assert "administrator disabled your account" in login.text
    # Signing in again says what is wrong with the account.
    token = csrf_from(login.text)
    refused = await client.post(
        "/login",
        data={"email": user.email, "password": DEFAULT_PASSWORD, "csrf_token": token},
        headers=HTML,
    )
    assert refused.status_code == 403
    assert "This account is disabled." in refused.text
    assert "ask an administrator" in refused.text

    # A browser that never signed in is just asked to sign in.
    client.cookies.clear()
    anonymous = await client.get("/cabinet", headers=HTML)
    assert anonymous.headers["location"] == "/login?next=/cabinet"
    assert "Your session has ended" not in (await client.get("/login", headers=HTML)).text


async def test_register_form_errors_keep_input_but_never_the_password(
    client: httpx.AsyncClient,
) -> None:
    response = await post_form(
        client,
        "/register",
        {"email": "not-an-email", "full_name": "Ada <b>L</b>", "password": "short-pw"[:5]},
    )
    assert response.status_code == 422
    assert "Ada &lt;b&gt;L&lt;/b&gt;" in response.text  # kept, and escaped
    assert 'value="not-an-email"' in response.text
    assert "short" not in response.text
    assert 'id="e-email"' in response.text
    assert 'id="e-password"' in response.text
    assert 'aria-invalid="true"' in response.text


async def test_register_signs_in_and_duplicate_email_is_shown_beside_the_field(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    response = await post_form(
        client,
        "/register",
        {"email": "New@Example.com", "full_name": "New Person", "password": "a-long-passphrase"},
    )
    assert response.status_code == 303, response.text
    assert client.cookies.get("campus_session")
    home = await client.get("/", headers=HTML)
    assert "Welcome to Campus, New Person!" in home.text

    other = httpx.AsyncClient(transport=client._transport, base_url="http://testserver")
    async with other:
        dup = await post_form(
            other,
            "/register",
            {"email": "new@example.com", "full_name": "Copy", "password": "another-passphrase"},
        )
    assert dup.status_code == 409
    assert "already exists" in dup.text
    assert 'id="e-email"' in dup.text


async def test_wrong_password_reshows_the_form_with_the_email(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    user = await create_user(session, settings)
    response = await post_form(
        client, "/login", {"email": user.email, "password": "wrong-password-here"}
    )
    assert response.status_code == 401
    assert "Incorrect email or password." in response.text
    assert f'value="{user.email}"' in response.text
    assert "wrong-password-here" not in response.text
    assert not client.cookies.get("campus_session")


async def test_disabled_account_cannot_sign_in(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    user = await create_user(session, settings, is_active=False)
    response = await post_form(
        client, "/login", {"email": user.email, "password": DEFAULT_PASSWORD}
    )
    assert response.status_code == 403
    assert "disabled" in response.text


async def test_login_follows_a_local_next_and_refuses_an_open_redirect(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    user = await create_user(session, settings)
    for evil in ("//evil.example/x", "https://evil.example/", "/\\evil.example", "javascript:x"):
        response = await post_form(
            client,
            "/login",
            {"email": user.email, "password": DEFAULT_PASSWORD, "next": evil},
            from_page="/login",
        )
        assert response.status_code == 303
        assert response.headers["location"] == "/", evil
        client.cookies.delete("campus_session")
    good = await post_form(
        client,
        "/login",
        {"email": user.email, "password": DEFAULT_PASSWORD, "next": "/logout?x=1"},
    )
    assert good.headers["location"] == "/logout?x=1"
    form = await client.get("/login?next=//evil.example", headers=HTML)
    assert form.status_code == 303  # already signed in: goes to the safe default
    assert form.headers["location"] == "/"


def test_safe_next() -> None:
    assert safe_next("/courses/1?x=2") == "/courses/1?x=2"
    for bad in (None, "", "//a", "http://a", "/\\a", "a/b", "/a\nb", "\t/a"):
        assert safe_next(bad) == "/"


def test_csrf_tokens_are_masked_and_checked() -> None:
    key = b"k" * 32
    first, second = mask_csrf_token(key), mask_csrf_token(key)
    assert first != second
    assert len(first) >= 16
    assert csrf_token_matches(key, first)
    assert csrf_token_matches(key, second)
    assert not csrf_token_matches(b"j" * 32, first)
    for bad in (None, "", "abc", "!" * 86, first[:-2]):
        assert not csrf_token_matches(key, bad)


@pytest.mark.parametrize(
    "source",
    [
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        "[click](javascript:alert(1))",
        '<a href="javascript:alert(1)">x</a>',
        "<iframe src=//evil></iframe>",
    ],
)
def test_markdown_never_emits_active_content(source: str) -> None:
    html = str(render_markdown(source))
    assert "<script" not in html
    assert "<img" not in html
    assert "<iframe" not in html
    assert '<a href="javascript' not in html
    assert "<a " not in html or "javascript" not in html


def test_markdown_renders_the_usual_things() -> None:
    html = str(
        render_markdown("# Title\n\n**bold** `code`\n\n```python\nx = 1\n```\n\n[a](https://x.y)")
    )
    assert "<h1>Title</h1>" in html
    assert "<strong>bold</strong>" in html
    assert '<code class="language-python">' in html
    assert 'rel="noopener noreferrer nofollow"' in html


async def test_unknown_page_is_a_404_html_page_and_api_stays_json(
    client: httpx.AsyncClient,
) -> None:
    page = await client.get("/no-such-page", headers=HTML)
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    api = await client.get("/api/v1/no-such", headers=HTML)
    assert api.status_code == 404
    assert api.headers["content-type"].startswith("application/problem+json")


async def test_pages_send_a_strict_csp_and_no_store(client: httpx.AsyncClient) -> None:
    response = await client.get("/login", headers=HTML)
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert response.headers["cache-control"] == "no-store"
    assert '<script src="/static/campus.js"' in response.text


async def test_admin_users_page_changes_roles_and_deactivates(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    admin = await create_user(session, settings, role="admin", full_name="Ada Admin")
    student = await create_user(session, settings, full_name="Sam Student")
    await sign_in(client, student.email, DEFAULT_PASSWORD)
    assert (await client.get("/admin/users", headers=HTML)).status_code == 403
    client.cookies.clear()
    assert (await client.get("/admin/users", headers=HTML)).status_code == 303
    await sign_in(client, admin.email, DEFAULT_PASSWORD)
    listing = await client.get("/admin/users?q=sam", headers=HTML)
    assert "Sam Student" in listing.text
    assert "<strong>Ada Admin</strong>" not in listing.text
    promoted = await post_form(
        client, f"/admin/users/{student.id}", {"role": "teacher"}, from_page="/admin/users"
    )
    assert promoted.status_code == 303
    await session.refresh(student)
    assert student.role == "teacher"
    last_admin = await post_form(
        client, f"/admin/users/{admin.id}", {"role": "student"}, from_page="/admin/users"
    )
    assert last_admin.status_code == 303
    assert "last active admin" in (await client.get("/admin/users", headers=HTML)).text
    off = await post_form(
        client, f"/admin/users/{student.id}", {"is_active": "false"}, from_page="/admin/users"
    )
    assert off.status_code == 303
    await session.refresh(student)
    assert student.is_active is False
