"""Social sign-in (GitHub, Google) against a loopback provider, driven by Authlib's real
httpx client over HTTP: the redirect, state bound to the browser and single use, code
exchange, PKCE and ID-token checks, linking and creating accounts, one-time codes for API
clients, and the unlink guard."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from campus.config import Settings
from campus.http.deps import SessionDep, get_session, writes_on_get
from campus.kit.clock import utcnow
from campus.main import create_app
from campus.models.accounts import AuthSession, OAuthAccount, OAuthExchangeCode, User
from tests.accounts.fakeoauth import (
    GITHUB_CLIENT_ID,
    GOOGLE_CLIENT_ID,
    FakeProvider,
    GitHubAccount,
    GoogleAccount,
    running_fake_provider,
)
from tests.conftest import on_test_transaction
from tests.factories import DEFAULT_PASSWORD, auth_headers, create_user
from tests.pagehelpers import HTML, csrf_from

APP_REDIRECT = "http://127.0.0.1:8765/campus-app/done"
BROWSER_UA = "Mozilla/5.0 (X11; Linux x86_64) OAuthTest/1.0"


@pytest.fixture(scope="session")
def fake_provider() -> Iterator[FakeProvider]:
    with running_fake_provider() as fake:
        yield fake


@pytest.fixture(scope="session")
def oauth_settings(settings: Settings, fake_provider: FakeProvider) -> Settings:
    return settings.model_copy(
        update={**fake_provider.settings_update(), "oauth_client_redirect_uris": [APP_REDIRECT]}
    )


@pytest.fixture(scope="session")
async def oauth_app(oauth_settings: Settings) -> AsyncIterator[FastAPI]:
    app = create_app(oauth_settings)
    yield app
    await app.state.database.dispose()


def _client(app: FastAPI, connection: AsyncConnection) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=on_test_transaction(app, connection))
    return httpx.AsyncClient(
        transport=transport, base_url="http://testserver", headers={"User-Agent": BROWSER_UA}
    )


@pytest.fixture
async def oc(
    oauth_app: FastAPI, connection: AsyncConnection, fake_provider: FakeProvider
) -> AsyncIterator[httpx.AsyncClient]:
    """A browser-like client of the OAuth-configured app, on the test's transaction."""
    fake_provider.reset()
    try:
        async with _client(oauth_app, connection) as c:
            yield c
    finally:
        oauth_app.dependency_overrides.pop(get_session, None)


async def start(client: httpx.AsyncClient, provider: str, **params: str) -> httpx.Response:
    response = await client.get(f"/api/v1/auth/oauth/{provider}/login", params=params)
    assert response.status_code == 302, response.text
    return response


async def at_provider(location: str) -> str:
    """Follow the authorize redirect at the (real, loopback) provider: the callback URL."""
    async with httpx.AsyncClient() as outside:
        answer = await outside.get(location)
    assert answer.status_code == 302, answer.text
    return answer.headers["location"]


async def sign_in_via(
    client: httpx.AsyncClient,
    provider: str,
    *,
    headers: dict[str, str] | None = None,
    **params: str,
) -> httpx.Response:
    started = await start(client, provider, **params)
    callback = await at_provider(started.headers["location"])
    return await client.get(callback, headers=headers or {})


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


async def count(session: AsyncSession, model: Any) -> int:
    return int((await session.execute(select(func.count()).select_from(model))).scalar_one())


async def user_by_email(session: AsyncSession, email: str) -> User | None:
    return (await session.execute(select(User).where(User.email == email))).scalar_one_or_none()


def flow_cookie(client: httpx.AsyncClient, provider: str) -> str | None:
    for cookie in client.cookies.jar:
        if cookie.name == f"campus_oauth_{provider}":
            return cookie.value
    return None


# --- starting the flow ------------------------------------------------------------------------


async def test_github_login_redirects_with_client_id_redirect_uri_scope_and_state(
    oc: httpx.AsyncClient, fake_provider: FakeProvider
) -> None:
    response = await start(oc, "github")
    location = response.headers["location"]
    assert location.startswith(f"{fake_provider.url}/github/login/oauth/authorize?")
    query = query_of(location)
    assert query["client_id"] == GITHUB_CLIENT_ID
    assert query["redirect_uri"] == "http://testserver/api/v1/auth/oauth/github/callback"
    assert query["scope"] == "read:user user:email"
    assert query["response_type"] == "code"
    assert len(query["state"]) >= 16
    cookie = response.headers["set-cookie"]
    assert "campus_oauth_github=" in cookie
    assert "HttpOnly" in cookie
    assert "Path=/api/v1/auth/oauth/" in cookie
    assert "Max-Age=600" in cookie
    again = query_of((await start(oc, "github")).headers["location"])
    assert again["state"] != query["state"]


async def test_google_login_carries_pkce_s256_and_a_nonce(
    oc: httpx.AsyncClient, fake_provider: FakeProvider
) -> None:
    location = (await start(oc, "google")).headers["location"]
    assert location.startswith(f"{fake_provider.url}/google/authorize?")
    query = query_of(location)
    assert query["client_id"] == GOOGLE_CLIENT_ID
    assert query["code_challenge_method"] == "S256"
    assert len(query["code_challenge"]) >= 43
    assert query["nonce"]
    assert set(query["scope"].split()) == {"openid", "email", "profile"}
    assert len(query["state"]) >= 16


@pytest.mark.parametrize("path", ["login", "callback"])
async def test_unknown_provider_is_a_404_problem(oc: httpx.AsyncClient, path: str) -> None:
    response = await oc.get(f"/api/v1/auth/oauth/facebook/{path}?code=x&state=y")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"].endswith("oauth-provider-not-found")


@pytest.mark.parametrize("path", ["github/login", "google/login", "github/callback?state=x"])
async def test_unconfigured_provider_is_a_404_problem(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(f"/api/v1/auth/oauth/{path}")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


async def test_buttons_only_for_configured_providers(
    oc: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    for path in ("/login", "/register"):
        page = (await oc.get(path, headers=HTML)).text
        assert "Continue with GitHub" in page
        assert "Continue with Google" in page
        assert 'href="/api/v1/auth/oauth/github/login"' in page
        plain = (await client.get(path, headers=HTML)).text
        assert "Continue with" not in plain
    page = (await oc.get("/login?next=/cabinet", headers=HTML)).text
    assert 'href="/api/v1/auth/oauth/github/login?next=/cabinet"' in page


# --- happy paths ------------------------------------------------------------------------------


async def test_github_browser_sign_in_creates_a_student_and_a_web_session(
    oc: httpx.AsyncClient, session: AsyncSession, fake_provider: FakeProvider
) -> None:
    fake_provider.github = GitHubAccount(
        4242,
        "newbie",
        "New Bie",
        [
            {"email": "other@example.com", "primary": False, "verified": True},
            {"email": "New.Bie@Example.com", "primary": True, "verified": True},
        ],
    )
    response = await sign_in_via(oc, "github", headers=HTML, next="/cabinet")
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/cabinet"
    assert "campus_session=" in response.headers.get("set-cookie", "")
    user = await user_by_email(session, "new.bie@example.com")
    assert user is not None
    assert user.role.value == "student"
    assert user.password_hash is None
    assert user.is_verified
    assert user.full_name == "New Bie"
    link = (
        await session.execute(select(OAuthAccount).where(OAuthAccount.user_id == user.id))
    ).scalar_one()
    assert (link.provider, link.subject, link.email) == ("github", "4242", "new.bie@example.com")
    web = (
        await session.execute(select(AuthSession).where(AuthSession.user_id == user.id))
    ).scalar_one()
    assert web.kind == "web"
    assert web.user_agent == BROWSER_UA
    assert web.ip == "127.0.0.1"
    # GitHub got its credentials in the form body, and the code once.
    assert fake_provider.token_requests[-1]["client_id"] == GITHUB_CLIENT_ID
    cabinet = await oc.get("/cabinet", headers=HTML)
    assert cabinet.status_code == 200
    assert "New Bie" in cabinet.text
    assert flow_cookie(oc, "github") is None  # the flow cookie is gone


async def test_google_sign_in_verifies_the_id_token_and_pkce(
    oc: httpx.AsyncClient, session: AsyncSession, fake_provider: FakeProvider
) -> None:
    fake_provider.google = GoogleAccount("g-777", "gwen@example.com", True, "Gwen Google")
    response = await sign_in_via(oc, "google", headers=HTML)
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/"
    user = await user_by_email(session, "gwen@example.com")
    assert user is not None
    assert user.full_name == "Gwen Google"
    assert fake_provider.token_requests[-1]["code_verifier"]  # the provider checked it
    link = (
        await session.execute(select(OAuthAccount).where(OAuthAccount.subject == "g-777"))
    ).scalar_one()
    assert link.user_id == user.id
    assert link.provider == "google"


async def test_the_same_provider_account_signs_in_as_the_same_user(
    oc: httpx.AsyncClient, session: AsyncSession, fake_provider: FakeProvider
) -> None:
    assert (await sign_in_via(oc, "github", headers=HTML)).status_code == 303
    users_before = await count(session, User)
    fake_provider.github.emails = [
        {"email": "octo-new@example.com", "primary": True, "verified": True}
    ]
    oc.cookies.clear()
    assert (await sign_in_via(oc, "github", headers=HTML)).status_code == 303
    assert await count(session, User) == users_before
    link = (
        await session.execute(select(OAuthAccount).where(OAuthAccount.subject == "1001"))
    ).scalar_one()
    assert link.email == "octo-new@example.com"


async def test_links_by_verified_email_to_an_existing_user(
    oc: httpx.AsyncClient, session: AsyncSession, settings: Settings, fake_provider: FakeProvider
) -> None:
    existing = await create_user(
        session, settings, email="octo@example.com", full_name="Octo Existing", is_verified=False
    )
    response = await sign_in_via(oc, "github", headers=HTML)
    assert response.status_code == 303
    await session.refresh(existing)
    assert existing.is_verified
    assert existing.password_hash is not None  # the password still works
    link = (
        await session.execute(select(OAuthAccount).where(OAuthAccount.user_id == existing.id))
    ).scalar_one()
    assert link.provider == "github"
    assert await user_by_email(session, "octo@example.com") is existing


# --- refusals ---------------------------------------------------------------------------------


async def test_github_without_a_verified_primary_email_is_refused(
    oc: httpx.AsyncClient, session: AsyncSession, settings: Settings, fake_provider: FakeProvider
) -> None:
    victim = await create_user(session, settings, email="victim@example.com")
    fake_provider.github = GitHubAccount(
        66,
        "mallory",
        "Mallory",
        [
            {"email": "victim@example.com", "primary": True, "verified": False},
            {"email": "mallory@example.com", "primary": False, "verified": True},
        ],
    )
    sessions_before = await count(session, AuthSession)
    response = await sign_in_via(oc, "github")
    assert response.status_code == 400
    body = response.json()
    assert body["type"].endswith("oauth-email-unverified")
    assert "verified email" in body["detail"]
    assert "campus_session" not in response.headers.get("set-cookie", "")
    assert await count(session, AuthSession) == sessions_before
    assert await count(session, OAuthAccount) == 0
    assert await user_by_email(session, "mallory@example.com") is None
    await session.refresh(victim)
    # In a browser: back to the sign-in page with the explanation.
    page = await sign_in_via(oc, "github", headers=HTML)
    assert page.status_code == 303
    assert page.headers["location"] == "/login"
    shown = await oc.get("/login", headers=HTML)
    assert "did not give Campus a verified email address" in shown.text


async def test_a_refusal_reads_in_the_browsers_language_while_the_problem_stays_english(
    oc: httpx.AsyncClient, fake_provider: FakeProvider
) -> None:
    """The callback runs under /api/ (English problems), but the sign-in page it sends a
    browser back to speaks the browser's language."""
    fake_provider.github = GitHubAccount(
        67, "nobody", "No Body", [{"email": "nb@example.com", "primary": True, "verified": False}]
    )
    russian = {**HTML, "Accept-Language": "ru-RU,ru;q=0.9"}
    api = await sign_in_via(oc, "github", headers={"Accept-Language": "ru"})
    assert "did not give Campus a verified email address" in api.json()["detail"]
    page = await sign_in_via(oc, "github", headers=russian)
    assert page.status_code == 303
    shown = await oc.get("/login", headers=russian)
    assert "GitHub не передал Campus подтверждённый адрес почты" in shown.text


async def test_google_with_email_verified_false_is_refused(
    oc: httpx.AsyncClient, session: AsyncSession, fake_provider: FakeProvider
) -> None:
    fake_provider.google = GoogleAccount("g-1", "unverified@example.com", False, "Un Verified")
    response = await sign_in_via(oc, "google")
    assert response.status_code == 400
    assert response.json()["type"].endswith("oauth-email-unverified")
    assert await user_by_email(session, "unverified@example.com") is None


async def test_provider_error_goes_back_to_login_with_a_clear_message(
    oc: httpx.AsyncClient, session: AsyncSession, fake_provider: FakeProvider
) -> None:
    fake_provider.deny = True
    response = await sign_in_via(oc, "github", headers=HTML, next="/cabinet")
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/cabinet"
    assert "campus_session=" not in response.headers.get("set-cookie", "")
    page = await oc.get("/login?next=/cabinet", headers=HTML)
    assert "Signing in with GitHub was cancelled" in page.text
    assert await count(session, AuthSession) == 0
    # Without a browser: a 400 problem.
    api = await sign_in_via(oc, "google")
    assert api.status_code == 400
    assert api.json()["type"].endswith("oauth-denied")


async def test_a_bad_code_with_a_good_state_fails_without_a_session(
    oc: httpx.AsyncClient, session: AsyncSession
) -> None:
    started = await start(oc, "github")
    state = query_of(started.headers["location"])["state"]
    response = await oc.get(f"/api/v1/auth/oauth/github/callback?code=bogus&state={state}")
    assert response.status_code == 400
    assert response.json()["type"].endswith("oauth-failed")
    assert await count(session, AuthSession) == 0


# --- state ----------------------------------------------------------------------------------


async def _callback_parts(client: httpx.AsyncClient, provider: str) -> tuple[str, dict[str, str]]:
    started = await start(client, provider)
    callback = await at_provider(started.headers["location"])
    return callback.split("?")[0], query_of(callback)


@pytest.mark.parametrize("provider", ["github", "google"])
async def test_forged_state_is_refused(
    oc: httpx.AsyncClient, session: AsyncSession, provider: str
) -> None:
    url, query = await _callback_parts(oc, provider)
    forged = await oc.get(url, params={"code": query["code"], "state": query["state"] + "x"})
    assert forged.status_code == 400
    assert forged.headers["content-type"] == "application/problem+json"
    assert forged.json()["type"].endswith("oauth-state-invalid")
    assert await count(session, AuthSession) == 0


async def test_missing_state_is_refused(oc: httpx.AsyncClient, session: AsyncSession) -> None:
    url, query = await _callback_parts(oc, "github")
    missing = await oc.get(url, params={"code": query["code"]})
    assert missing.status_code == 400
    assert missing.json()["type"].endswith("oauth-state-invalid")
    assert await count(session, AuthSession) == 0


async def test_state_from_another_browser_is_refused(
    oc: httpx.AsyncClient,
    oauth_app: FastAPI,
    connection: AsyncConnection,
    session: AsyncSession,
) -> None:
    url, query = await _callback_parts(oc, "github")
    async with _client(oauth_app, connection) as other:
        stolen = await other.get(url, params=query)
        assert stolen.status_code == 400
        assert stolen.json()["type"].endswith("oauth-state-invalid")
        # A person in a browser sees the sign-in page with the reason.
        page = await other.get(url, params=query, headers=HTML)
        assert page.status_code == 303
        assert page.headers["location"] == "/login"
        assert "campus_session=" not in page.headers.get("set-cookie", "")
    assert await count(session, AuthSession) == 0


async def test_reused_state_is_refused_even_with_the_cookie(
    oc: httpx.AsyncClient, session: AsyncSession, fake_provider: FakeProvider
) -> None:
    started = await start(oc, "github")
    cookie = flow_cookie(oc, "github")
    assert cookie
    callback = await at_provider(started.headers["location"])
    assert (await oc.get(callback)).status_code == 303
    sessions_after_first = await count(session, AuthSession)
    # Replay: the same callback with the same flow cookie (an attacker who copied both).
    oc.cookies.set("campus_oauth_github", cookie, domain="testserver", path="/api/v1/auth/oauth/")
    # Even if the provider accepted the code again, the state is used up.
    query = query_of(callback)
    fake_provider.codes[query["code"]] = fake_provider.codes.get(query["code"]) or _regrant(
        fake_provider, "github"
    )
    replay = await oc.get(callback)
    assert replay.status_code == 400
    assert replay.json()["type"].endswith("oauth-state-invalid")
    assert await count(session, AuthSession) == sessions_after_first


def _regrant(fake: FakeProvider, provider: str) -> Any:
    from tests.accounts.fakeoauth import _Grant

    return _Grant(
        provider=provider,
        redirect_uri=f"http://testserver/api/v1/auth/oauth/{provider}/callback",
        account=fake.github,
    )


async def test_state_cookie_expires(oc: httpx.AsyncClient, oauth_settings: Settings) -> None:
    from campus.accounts.service import oauth

    url, query = await _callback_parts(oc, "github")
    flow = oauth.peek_flow(
        oauth_settings, provider="github", cookie_value=flow_cookie(oc, "github")
    )
    assert flow is not None
    expired = oauth.seal_flow(
        oauth_settings,
        oauth.FlowState(**{**_fields(flow), "expires": flow.expires - 3600}),
    )
    oc.cookies.clear()
    oc.cookies.set("campus_oauth_github", expired, domain="testserver", path="/api/v1/auth/oauth/")
    response = await oc.get(url, params=query)
    assert response.status_code == 400
    assert response.json()["type"].endswith("oauth-state-invalid")


def _fields(flow: Any) -> dict[str, Any]:
    return {name: getattr(flow, name) for name in flow.__slots__}


# --- API clients: the one-time code ---------------------------------------------------------


async def test_api_client_gets_a_one_time_code_never_tokens_in_the_url(
    oc: httpx.AsyncClient, session: AsyncSession
) -> None:
    response = await sign_in_via(
        oc, "github", client_redirect_uri=APP_REDIRECT, client_state="app-state-123"
    )
    assert response.status_code == 302
    location = response.headers["location"]
    assert location.startswith(APP_REDIRECT + "?")
    query = query_of(location)
    assert query["state"] == "app-state-123"
    assert set(query) == {"code", "state"}
    assert "token" not in location
    assert "campus_session=" not in response.headers.get("set-cookie", "")
    exchange = await oc.post(
        "/api/v1/auth/oauth/exchange",
        json={"code": query["code"]},
        headers={"User-Agent": "CampusApp/2.0"},
    )
    assert exchange.status_code == 200, exchange.text
    tokens = exchange.json()
    assert tokens["token_type"] == "bearer"
    me = await oc.get(
        "/api/v1/auth/me", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    assert me.json()["email"] == "octo@example.com"
    api_session = (
        await session.execute(select(AuthSession).where(AuthSession.kind == "api"))
    ).scalar_one()
    assert api_session.user_agent == "CampusApp/2.0"
    again = await oc.post("/api/v1/auth/oauth/exchange", json={"code": query["code"]})
    assert again.status_code == 400
    assert again.json()["type"].endswith("invalid-code")


async def test_an_expired_one_time_code_is_refused(
    oc: httpx.AsyncClient, session: AsyncSession
) -> None:
    response = await sign_in_via(oc, "google", client_redirect_uri=APP_REDIRECT)
    code = query_of(response.headers["location"])["code"]
    await session.execute(
        update(OAuthExchangeCode).values(expires_at=utcnow() - timedelta(seconds=1))
    )
    await session.flush()
    exchange = await oc.post("/api/v1/auth/oauth/exchange", json={"code": code})
    assert exchange.status_code == 400
    assert exchange.json()["type"].endswith("invalid-code")


@pytest.mark.parametrize("body", [{"code": "not-a-real-code"}, {}, {"code": ""}])
async def test_exchange_rejects_bad_codes(oc: httpx.AsyncClient, body: dict[str, str]) -> None:
    response = await oc.post("/api/v1/auth/oauth/exchange", json=body)
    assert response.status_code in (400, 422)
    assert response.headers["content-type"] == "application/problem+json"


async def test_api_client_errors_go_back_to_the_app(
    oc: httpx.AsyncClient, fake_provider: FakeProvider
) -> None:
    fake_provider.deny = True
    response = await sign_in_via(oc, "github", client_redirect_uri=APP_REDIRECT, client_state="s1")
    assert response.status_code == 302
    query = query_of(response.headers["location"])
    assert query["error"] == "oauth-denied"
    assert query["state"] == "s1"
    assert "code" not in query


async def test_unregistered_client_redirect_uri_is_refused(oc: httpx.AsyncClient) -> None:
    response = await oc.get(
        "/api/v1/auth/oauth/github/login", params={"client_redirect_uri": "https://evil.example/"}
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["query", "client_redirect_uri"]


async def test_next_is_only_a_local_path(oc: httpx.AsyncClient) -> None:
    response = await sign_in_via(oc, "github", headers=HTML, next="//evil.example/")
    assert response.status_code == 303
    assert response.headers["location"] == "/"


# --- linked sign-in methods and the unlink guard -------------------------------------------


async def _bearer_of_social_user(oc: httpx.AsyncClient, provider: str = "github") -> dict[str, str]:
    response = await sign_in_via(oc, provider, client_redirect_uri=APP_REDIRECT)
    code = query_of(response.headers["location"])["code"]
    tokens = (await oc.post("/api/v1/auth/oauth/exchange", json={"code": code})).json()
    return {"Authorization": f"Bearer {tokens['access_token']}"}


async def test_unlink_guard_keeps_the_last_way_to_sign_in(
    oc: httpx.AsyncClient, fake_provider: FakeProvider
) -> None:
    headers = await _bearer_of_social_user(oc, "github")
    listing = await oc.get("/api/v1/auth/oauth/accounts", headers=headers)
    assert listing.status_code == 200
    body = listing.json()
    assert body["has_password"] is False
    assert [(m["provider"], m["can_unlink"]) for m in body["linked"]] == [("github", False)]
    assert body["available"] == ["google"]
    refused = await oc.delete("/api/v1/auth/oauth/accounts/github", headers=headers)
    assert refused.status_code == 409
    assert refused.json()["type"].endswith("last-sign-in-method")
    # Google with the same verified email links to the same account...
    fake_provider.google = GoogleAccount("g-octo", "octo@example.com", True, "Octo G")
    await _bearer_of_social_user(oc, "google")
    linked = (await oc.get("/api/v1/auth/oauth/accounts", headers=headers)).json()["linked"]
    assert {(m["provider"], m["can_unlink"]) for m in linked} == {
        ("github", True),
        ("google", True),
    }
    # ...so GitHub can go, and then Google is the last one.
    assert (
        await oc.delete("/api/v1/auth/oauth/accounts/github", headers=headers)
    ).status_code == 204
    last = await oc.delete("/api/v1/auth/oauth/accounts/google", headers=headers)
    assert last.status_code == 409
    missing = await oc.delete("/api/v1/auth/oauth/accounts/github", headers=headers)
    assert missing.status_code == 404
    unknown = await oc.delete("/api/v1/auth/oauth/accounts/myspace", headers=headers)
    assert unknown.status_code == 404


async def test_a_user_with_a_password_may_unlink_the_only_provider(
    oc: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    user = await create_user(session, settings, email="octo@example.com")
    assert (await sign_in_via(oc, "github", headers=HTML)).status_code == 303
    headers = await auth_headers(session, settings, user)
    body = (await oc.get("/api/v1/auth/oauth/accounts", headers=headers)).json()
    assert body["has_password"] is True
    assert body["linked"][0]["can_unlink"] is True
    assert (
        await oc.delete("/api/v1/auth/oauth/accounts/github", headers=headers)
    ).status_code == 204
    assert await count(session, OAuthAccount) == 0
    # and the password still signs in
    login = await oc.post(
        "/api/v1/auth/login", data={"username": "octo@example.com", "password": DEFAULT_PASSWORD}
    )
    assert login.status_code == 200


async def test_accounts_routes_need_a_bearer(oc: httpx.AsyncClient) -> None:
    assert (await oc.get("/api/v1/auth/oauth/accounts")).status_code == 401
    assert (await oc.delete("/api/v1/auth/oauth/accounts/github")).status_code == 401


async def test_a_social_only_user_cannot_sign_in_with_a_password(oc: httpx.AsyncClient) -> None:
    await _bearer_of_social_user(oc, "github")
    for password in ("", "anything-at-all-123"):
        response = await oc.post(
            "/api/v1/auth/login", data={"username": "octo@example.com", "password": password}
        )
        assert response.status_code in (401, 422)


async def test_sign_in_methods_page_unlinks_with_csrf(
    oc: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    await create_user(session, settings, email="octo@example.com", full_name="Octo Pass")
    assert (await sign_in_via(oc, "github", headers=HTML)).status_code == 303
    page = await oc.get("/account/sign-in-methods", headers=HTML)
    assert page.status_code == 200
    assert "Sign-in methods" in page.text
    assert "Unlink GitHub" in page.text
    assert "octo@example.com" in page.text
    no_csrf = await oc.post("/account/sign-in-methods/github/unlink", headers=HTML)
    assert no_csrf.status_code == 403
    token = csrf_from(page.text)
    done = await oc.post(
        "/account/sign-in-methods/github/unlink", data={"csrf_token": token}, headers=HTML
    )
    assert done.status_code == 303
    assert done.headers["location"] == "/account/sign-in-methods"
    after = await oc.get("/account/sign-in-methods", headers=HTML)
    assert "GitHub is no longer linked" in after.text
    assert "Unlink GitHub" not in after.text


async def test_sign_in_methods_page_explains_the_last_method(oc: httpx.AsyncClient) -> None:
    assert (await sign_in_via(oc, "github", headers=HTML)).status_code == 303
    page = await oc.get("/account/sign-in-methods", headers=HTML)
    assert "Your only way to sign in" in page.text
    assert "Unlink GitHub" not in page.text
    forced = await oc.post(
        "/account/sign-in-methods/github/unlink",
        data={"csrf_token": csrf_from(page.text)},
        headers=HTML,
    )
    assert forced.status_code == 303
    shown = await oc.get("/account/sign-in-methods", headers=HTML)
    assert "your only way to sign in" in shown.text


async def test_sign_in_methods_page_needs_sign_in(oc: httpx.AsyncClient) -> None:
    response = await oc.get("/account/sign-in-methods", headers=HTML)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/account/sign-in-methods"


async def test_openapi_documents_the_flow(oc: httpx.AsyncClient) -> None:
    schema = (await oc.get("/openapi.json")).json()
    paths = schema["paths"]
    for path in (
        "/api/v1/auth/oauth/{provider}/login",
        "/api/v1/auth/oauth/{provider}/callback",
        "/api/v1/auth/oauth/exchange",
        "/api/v1/auth/oauth/accounts",
        "/api/v1/auth/oauth/accounts/{provider}",
    ):
        assert path in paths
    assert "one-time code" in paths["/api/v1/auth/oauth/{provider}/login"]["get"]["description"]


# --- a provider that misbehaves, accounts that may not sign in ---------------------------


@pytest.mark.parametrize(
    "overrides",
    [
        {"nonce": "not-the-nonce-we-sent"},
        {"aud": "someone-elses-client"},
        {"iss": "https://evil.example"},
        {"exp": 1_000_000_000},
        {"at_hash": "AAAAAAAAAAAAAAAAAAAAAA"},
    ],
    ids=["nonce", "audience", "issuer", "expired", "at_hash"],
)
async def test_google_id_token_claims_are_checked(
    oc: httpx.AsyncClient,
    session: AsyncSession,
    fake_provider: FakeProvider,
    overrides: dict[str, Any],
) -> None:
    fake_provider.id_token_overrides = overrides
    response = await sign_in_via(oc, "google")
    assert response.status_code == 400, response.text
    assert response.json()["type"].endswith("oauth-failed")
    assert await count(session, User) == 0
    assert await count(session, AuthSession) == 0


async def test_google_id_token_signed_by_another_key_is_refused(
    oc: httpx.AsyncClient, session: AsyncSession, fake_provider: FakeProvider
) -> None:
    fake_provider.sign_with_stranger_key = True
    response = await sign_in_via(oc, "google")
    assert response.status_code == 400
    assert response.json()["type"].endswith("oauth-failed")
    assert await count(session, User) == 0


@pytest.mark.parametrize("provider", ["github", "google"])
async def test_a_provider_that_fails_is_a_502(
    oc: httpx.AsyncClient, session: AsyncSession, fake_provider: FakeProvider, provider: str
) -> None:
    fake_provider.token_status = 503
    response = await sign_in_via(oc, provider)
    assert response.status_code == 502
    assert response.headers["content-type"] == "application/problem+json"
    assert "try again" in response.json()["detail"]
    assert await count(session, User) == 0
    page = await sign_in_via(oc, provider, headers=HTML)
    assert page.status_code == 303
    assert page.headers["location"] == "/login"


async def test_a_disabled_account_cannot_sign_in_with_a_provider(
    oc: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    await create_user(session, settings, email="octo@example.com", is_active=False)
    response = await sign_in_via(oc, "github")
    assert response.status_code == 403
    assert response.json()["type"].endswith("account-disabled")
    assert await count(session, AuthSession) == 0
    assert await count(session, OAuthAccount) == 0


async def test_a_linked_github_account_cannot_be_replaced_by_another(
    oc: httpx.AsyncClient, session: AsyncSession, fake_provider: FakeProvider
) -> None:
    assert (await sign_in_via(oc, "github", headers=HTML)).status_code == 303
    oc.cookies.clear()
    fake_provider.github = GitHubAccount(
        9999,
        "octo2",
        "Octo Two",
        [{"email": "octo@example.com", "primary": True, "verified": True}],
    )
    response = await sign_in_via(oc, "github")
    assert response.status_code == 409
    assert response.json()["type"].endswith("oauth-account-mismatch")
    assert await count(session, OAuthAccount) == 1


async def test_a_browser_signed_in_before_gets_a_new_session(
    oc: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    from tests.pagehelpers import sign_in

    await create_user(session, settings, email="someone@example.com")
    await sign_in(oc, "someone@example.com", DEFAULT_PASSWORD)
    old = oc.cookies.get("campus_session")
    assert (await sign_in_via(oc, "github", headers=HTML)).status_code == 303
    assert oc.cookies.get("campus_session") != old
    live = (
        await session.execute(
            select(func.count()).select_from(AuthSession).where(AuthSession.revoked_at.is_(None))
        )
    ).scalar_one()
    assert live == 1  # the earlier session of this browser ended


def test_settings_blank_ids_are_unset_and_production_wants_secrets() -> None:
    from campus.accounts.service.oauth import configured_providers
    from campus.config import ConfigurationError

    blank = Settings(env="test", oauth_github_client_id="  ", oauth_google_client_id="")
    assert configured_providers(blank) == []
    only_google = Settings(env="test", oauth_google_client_id="g", oauth_google_client_secret="s")
    assert configured_providers(only_google) == ["google"]
    unsafe = Settings(
        env="production", secret_key="x" * 40, oauth_github_client_id="id-without-secret"
    )
    with pytest.raises(ConfigurationError, match="CAMPUS_OAUTH_GITHUB_CLIENT_SECRET"):
        unsafe.check_production()
    redirect_uris = Settings(env="test", oauth_client_redirect_uris="http://127.0.0.1:9/a, app:/b")
    assert redirect_uris.oauth_client_redirect_uris == ["http://127.0.0.1:9/a", "app:/b"]


async def test_concurrent_unlinks_keep_one_way_to_sign_in(
    oauth_settings: Settings, engine: Any
) -> None:
    """Two requests unlinking the last two providers at once: exactly one succeeds."""
    import asyncio

    from campus.accounts.service.sessions import start_session
    from tests.conftest import truncate_all

    app = create_app(oauth_settings)
    try:
        async with AsyncSession(engine, expire_on_commit=False) as db:
            user = User(email="both@example.com", full_name="Both", password_hash=None)
            db.add(user)
            await db.flush()
            for provider, subject in (("github", "31"), ("google", "g-31")):
                db.add(OAuthAccount(user_id=user.id, provider=provider, subject=subject))
            tokens = await start_session(db, oauth_settings, user)
            await db.commit()
        headers = {"Authorization": f"Bearer {tokens.access_token}"}
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            answers = await asyncio.gather(
                c.delete("/api/v1/auth/oauth/accounts/github", headers=headers),
                c.delete("/api/v1/auth/oauth/accounts/google", headers=headers),
            )
        assert sorted(a.status_code for a in answers) == [204, 409]
        async with AsyncSession(engine) as db:
            assert await count(db, OAuthAccount) == 1
    finally:
        await app.state.database.dispose()
        await truncate_all(engine)


# --- linking a provider while signed in ------------------------------------------------------


async def test_a_signed_in_user_links_a_provider_from_the_sign_in_methods_page(
    oc: httpx.AsyncClient, session: AsyncSession, settings: Settings, fake_provider: FakeProvider
) -> None:
    from tests.pagehelpers import sign_in

    user = await create_user(session, settings, email="pat@example.com", full_name="Pat")
    await sign_in(oc, "pat@example.com", DEFAULT_PASSWORD)
    web_cookie = oc.cookies.get("campus_session")
    page = await oc.get("/account/sign-in-methods", headers=HTML)
    assert "Link GitHub" in page.text
    assert "Link Google" in page.text
    assert "/api/v1/auth/oauth/google/login?link=true&amp;next=/account/sign-in-methods" in (
        page.text
    )
    # A Google account with another (even unverified) address: the person proved both.
    fake_provider.google = GoogleAccount("g-pat", "pat.private@example.org", False, "Pat G")
    response = await sign_in_via(
        oc, "google", headers=HTML, link="true", next="/account/sign-in-methods"
    )
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/account/sign-in-methods"
    assert "campus_session=" not in response.headers.get("set-cookie", "")
    assert oc.cookies.get("campus_session") == web_cookie  # still the same session
    link = (await session.execute(select(OAuthAccount))).scalar_one()
    assert (link.user_id, link.provider, link.subject) == (user.id, "google", "g-pat")
    after = await oc.get("/account/sign-in-methods", headers=HTML)
    assert "Google is now linked to your account." in after.text
    assert "Unlink Google" in after.text
    assert "Link Google" not in after.text
    # Later, "Continue with Google" signs in as Pat.
    oc.cookies.clear()
    assert (await sign_in_via(oc, "google", headers=HTML)).status_code == 303
    sessions = (
        await session.execute(select(AuthSession).where(AuthSession.user_id == user.id))
    ).scalars()
    assert len(list(sessions)) == 2


async def test_linking_an_account_someone_else_has_is_refused(
    oc: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    from tests.pagehelpers import sign_in

    assert (await sign_in_via(oc, "github", headers=HTML)).status_code == 303  # octo's
    oc.cookies.clear()
    await create_user(session, settings, email="pat@example.com")
    await sign_in(oc, "pat@example.com", DEFAULT_PASSWORD)
    response = await sign_in_via(
        oc, "github", headers=HTML, link="true", next="/account/sign-in-methods"
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/account/sign-in-methods"
    page = await oc.get("/account/sign-in-methods", headers=HTML)
    assert "already linked to another Campus account" in page.text
    assert await count(session, OAuthAccount) == 1
    api = await sign_in_via(oc, "github", link="true")
    assert api.status_code == 409
    assert api.json()["type"].endswith("oauth-account-taken")


async def test_linking_needs_a_signed_in_browser(
    oc: httpx.AsyncClient, session: AsyncSession
) -> None:
    response = await sign_in_via(
        oc, "github", headers=HTML, link="true", next="/account/sign-in-methods"
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/account/sign-in-methods"
    page = await oc.get("/login", headers=HTML)
    assert "Sign in to Campus first" in page.text
    assert await count(session, OAuthAccount) == 0
    assert await count(session, User) == 0
    assert (
        await oc.get(
            "/api/v1/auth/oauth/github/login",
            params={"link": "true", "client_redirect_uri": APP_REDIRECT},
        )
    ).status_code == 422


async def test_a_social_only_user_sets_a_first_password_through_the_reset_link(
    oc: httpx.AsyncClient, outbox: Any
) -> None:
    headers = await _bearer_of_social_user(oc, "github")
    assert (await oc.get("/api/v1/auth/oauth/accounts", headers=headers)).json()[
        "has_password"
    ] is False
    assert (
        await oc.post("/api/v1/auth/password-reset", json={"email": "octo@example.com"})
    ).status_code == 202
    token = await outbox.last_token("octo@example.com", "/reset-password")
    confirm = await oc.post(
        "/api/v1/auth/password-reset/confirm",
        json={"token": token, "new_password": "a-first-password-for-octo"},
    )
    assert confirm.status_code == 204
    login = await oc.post(
        "/api/v1/auth/login",
        data={"username": "octo@example.com", "password": "a-first-password-for-octo"},
    )
    assert login.status_code == 200
    fresh = {"Authorization": f"Bearer {login.json()['access_token']}"}
    methods = (await oc.get("/api/v1/auth/oauth/accounts", headers=fresh)).json()
    assert methods["has_password"] is True
    assert methods["linked"][0]["can_unlink"] is True


async def test_google_discovery_out_of_reach(
    oauth_settings: Settings, connection: AsyncConnection, fake_provider: FakeProvider
) -> None:
    """The discovery document cannot be read: no redirect to nowhere, a clear answer."""
    from tests.accounts.fakeoauth import _free_port

    broken = oauth_settings.model_copy(
        update={"oauth_google_metadata_url": f"http://127.0.0.1:{_free_port()}/.well-known/x"}
    )
    app = create_app(broken)
    try:
        async with _client(app, connection) as c:
            api = await c.get("/api/v1/auth/oauth/google/login")
            assert api.status_code == 502
            assert api.headers["content-type"] == "application/problem+json"
            page = await c.get("/api/v1/auth/oauth/google/login?next=/cabinet", headers=HTML)
            assert page.status_code == 303
            assert page.headers["location"] == "/login?next=/cabinet"
            shown = await c.get("/login", headers=HTML)
            assert "Google could not be reached" in shown.text
    finally:
        await app.state.database.dispose()


@pytest.mark.postgres_only
async def test_a_get_marked_writes_on_get_runs_in_a_transaction(settings: Settings) -> None:
    """The callback is a GET that writes: ``writes_on_get`` gives it a write transaction
    (a plain GET reads in autocommit on PostgreSQL, where its writes would not be atomic)."""
    from fastapi import APIRouter

    router = APIRouter()

    async def in_transaction(session: AsyncSession) -> bool:
        await session.execute(select(1))
        raw = await (await session.connection()).get_raw_connection()
        return bool(raw.driver_connection.is_in_transaction())

    @router.get("/_test/plain-get")
    async def plain_get(session: SessionDep) -> dict[str, bool]:
        return {"in_transaction": await in_transaction(session)}

    @router.get("/_test/writing-get")
    @writes_on_get
    async def writing_get(session: SessionDep) -> dict[str, bool]:
        return {"in_transaction": await in_transaction(session)}

    app = create_app(settings)
    app.include_router(router)
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            assert (await c.get("/_test/plain-get")).json() == {"in_transaction": False}
            assert (await c.get("/_test/writing-get")).json() == {"in_transaction": True}
    finally:
        await app.state.database.dispose()
