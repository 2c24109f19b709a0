"""The self-service pages (API.md §10): /forgot-password, /reset-password, /verify-email and
/account (name, password, email, mail preferences, devices), with their form errors."""

from __future__ import annotations

import hashlib
import re
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from campus.config import Settings
from campus.kit.clock import utcnow
from campus.models.accounts import AccountToken, AuthSession, User
from tests.accounts.conftest import Outbox, bearer, login
from tests.factories import DEFAULT_PASSWORD, create_user, unique_email
from tests.pagehelpers import HTML, csrf_from, page_csrf, post_form, sign_in

NEW = "a-brand-new-passphrase"


def _email(prefix: str = "self") -> str:
    return unique_email(prefix).replace(".test", ".com")  # the API refuses .test


@pytest.fixture
async def other_browser(client: httpx.AsyncClient) -> AsyncIterator[httpx.AsyncClient]:
    """A second browser (its own cookies) on the same app."""
    async with httpx.AsyncClient(
        transport=client._transport, base_url="http://testserver"
    ) as browser:
        yield browser


def _error(html: str, field: str) -> str:
    match = re.search(rf'<p class="error-text" id="e-{field}">([^<]*)</p>', html)
    assert match, f"no error beside {field}"
    return match.group(1)


async def test_login_page_links_to_forgot_password(client: httpx.AsyncClient) -> None:
    page = await client.get("/login", headers=HTML)
    assert 'href="/forgot-password"' in page.text
    assert "Forgot password?" in page.text


# --- forgot password -----------------------------------------------------------------------


async def test_forgot_password_answers_the_same_for_known_and_unknown(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, outbox: Outbox
) -> None:
    user = await create_user(session, settings, email=_email())
    for email in (user.email, "nobody-here@example.com"):
        response = await post_form(client, "/forgot-password", {"email": email})
        assert response.status_code == 303
        assert response.headers["location"] == "/forgot-password?sent=1"
    sent = await client.get("/forgot-password?sent=1", headers=HTML)
    assert "If an account exists for that address" in sent.text
    assert len(await outbox.messages(user.email)) == 1
    assert await outbox.messages("nobody-here@example.com") == []


async def test_forgot_password_form_errors_keep_the_input(client: httpx.AsyncClient) -> None:
    response = await post_form(client, "/forgot-password", {"email": "not an email"})
    assert response.status_code == 422
    assert 'value="not an email"' in response.text
    assert _error(response.text, "email")
    empty = await post_form(client, "/forgot-password", {})
    assert empty.status_code == 422
    assert _error(empty.text, "email")


async def test_forgot_password_needs_csrf(client: httpx.AsyncClient) -> None:
    response = await client.post("/forgot-password", data={"email": "a@example.com"}, headers=HTML)
    assert response.status_code == 403


# --- reset password ------------------------------------------------------------------------


async def _reset_token(client: httpx.AsyncClient, outbox: Outbox, email: str) -> str:
    assert (await post_form(client, "/forgot-password", {"email": email})).status_code == 303
    return await outbox.last_token(email, "/reset-password")


async def test_reset_page_sets_the_password_and_signs_in(
    client: httpx.AsyncClient,
    other_browser: httpx.AsyncClient,
    session: AsyncSession,
    settings: Settings,
    outbox: Outbox,
) -> None:
    user = await create_user(session, settings, email=_email(), is_verified=False)
    await sign_in(other_browser, user.email, DEFAULT_PASSWORD)
    api = (await login(client, user.email, DEFAULT_PASSWORD)).json()
    token = await _reset_token(client, outbox, user.email)

    form = await client.get(f"/reset-password?token={token}", headers=HTML)
    assert form.status_code == 200
    assert user.email in form.text
    assert f'name="token" value="{token}"' in form.text
    response = await client.post(
        "/reset-password",
        data={
            "token": token,
            "new_password": NEW,
            "new_password_confirm": NEW,
            "csrf_token": csrf_from(form.text),
        },
        headers=HTML,
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/account"
    account = await client.get("/account", headers=HTML)
    assert account.status_code == 200
    assert "Your password has been changed and you are signed in." in account.text
    # Every earlier session ended; the old password is dead, the new one works.
    assert (await other_browser.get("/account", headers=HTML)).status_code == 303
    assert (await client.get("/api/v1/auth/me", headers=bearer(api))).status_code == 401
    assert (await login(client, user.email, DEFAULT_PASSWORD)).status_code == 401
    assert (await login(client, user.email, NEW)).status_code == 200
    await session.refresh(user)
    assert user.is_verified is True
    # The token is dead after use: the page explains and offers a new link.
    used = await client.get(f"/reset-password?token={token}", headers=HTML)
    assert used.status_code == 400
    assert "This link does not work" in used.text
    assert 'action="/forgot-password"' in used.text
    subjects = [m.subject for m in await outbox.messages(user.email)]
    assert subjects == ["Reset your Campus password", "Your Campus password was changed"]


@pytest.mark.parametrize("token", ["", "garbage", "x" * 600, "%ff%fe", "a b&c"])
async def test_reset_page_explains_a_malformed_link(client: httpx.AsyncClient, token: str) -> None:
    response = await client.get(f"/reset-password?token={token}", headers=HTML)
    assert response.status_code == 400
    assert "This link does not work" in response.text
    assert "Send me a new reset link" in response.text
    missing = await client.get("/reset-password", headers=HTML)
    assert missing.status_code == 400


async def test_reset_page_explains_an_expired_link(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, outbox: Outbox
) -> None:
    user = await create_user(session, settings, email=_email())
    token = await _reset_token(client, outbox, user.email)
    await session.execute(
        update(AccountToken)
        .where(AccountToken.user_id == user.id)
        .values(expires_at=utcnow() - timedelta(seconds=1))
    )
    response = await client.get(f"/reset-password?token={token}", headers=HTML)
    assert response.status_code == 400
    assert "expired" in response.text
    post = await post_form(
        client,
        "/reset-password",
        {"token": token, "new_password": NEW, "new_password_confirm": NEW},
        from_page="/forgot-password",
    )
    assert post.status_code == 400
    assert (await login(client, user.email, DEFAULT_PASSWORD)).status_code == 200


async def test_reset_form_errors_sit_beside_their_fields(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, outbox: Outbox
) -> None:
    user = await create_user(session, settings, email=_email())
    token = await _reset_token(client, outbox, user.email)
    cases = [
        ({"new_password": NEW, "new_password_confirm": NEW + "x"}, "new_password_confirm"),
        ({"new_password": "short", "new_password_confirm": "short"}, "new_password"),
        ({"new_password": "password123", "new_password_confirm": "password123"}, "new_password"),
        ({"new_password": user.email, "new_password_confirm": user.email}, "new_password"),
        ({}, "new_password"),
    ]
    for data, field in cases:
        response = await post_form(
            client,
            "/reset-password",
            {"token": token, **data},
            from_page=f"/reset-password?token={token}",
        )
        assert response.status_code == 422, (data, response.text[:300])
        assert _error(response.text, field)
        # The form comes back with the token, never with a password typed.
        assert f'name="token" value="{token}"' in response.text
        for value in data.values():
            if value != user.email:  # the address is on the form (for password managers)
                assert f'value="{value}"' not in response.text
    # None of that used the token up.
    assert (await client.get(f"/reset-password?token={token}", headers=HTML)).status_code == 200


# --- verify email --------------------------------------------------------------------------


async def test_verify_email_from_the_mailed_link(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, outbox: Outbox
) -> None:
    email = _email("verify")
    token = await page_csrf(client, "/register")
    registered = await client.post(
        "/register",
        data={"email": email, "full_name": "Vera Fied", "password": NEW, "csrf_token": token},
        headers=HTML,
    )
    assert registered.status_code == 303
    link = await outbox.last_token(email, "/verify-email")
    account = await client.get("/account", headers=HTML)
    assert "Not confirmed" in account.text

    # Opening the mailed link confirms the address (a black-box client only follows it).
    confirmed = await client.get(f"/verify-email?token={link}", headers=HTML)
    assert confirmed.status_code == 303
    assert confirmed.headers["location"] == "/account"
    account = await client.get("/account", headers=HTML)
    assert "your email address is confirmed" in account.text
    assert "Confirmed</span>" in account.text
    user = (await session.execute(select(User).where(User.email == email))).scalar_one()
    assert user.is_verified is True
    # The used link now says so; a verified viewer is told there is nothing more to do.
    again = await client.get(f"/verify-email?token={link}", headers=HTML)
    assert again.status_code == 200
    assert "already confirmed" in again.text


async def test_verify_email_explains_a_dead_link_and_offers_a_new_one(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, outbox: Outbox
) -> None:
    anonymous = await client.get("/verify-email?token=nope", headers=HTML)
    assert anonymous.status_code == 400
    assert "This link does not work" in anonymous.text
    assert "/login?next=/account" in anonymous.text

    user = await create_user(session, settings, email=_email(), is_verified=False)
    await sign_in(client, user.email, DEFAULT_PASSWORD)
    signed_in = await client.get("/verify-email?token=nope", headers=HTML)
    assert signed_in.status_code == 400
    assert 'action="/account/verify-email"' in signed_in.text
    resend = await client.post(
        "/account/verify-email", data={"csrf_token": csrf_from(signed_in.text)}, headers=HTML
    )
    assert resend.status_code == 303
    assert await outbox.last_token(user.email, "/verify-email")


# --- /account ------------------------------------------------------------------------------


async def test_account_needs_sign_in(client: httpx.AsyncClient) -> None:
    response = await client.get("/account", headers=HTML)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/account"
    for path in ("/account/profile", "/account/password", "/account/devices/others/sign-out"):
        token = await page_csrf(client, "/login")
        posted = await client.post(path, data={"csrf_token": token}, headers=HTML)
        assert posted.status_code == 303
        assert posted.headers["location"].startswith("/login")


async def test_account_shows_profile_devices_and_activity(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    user = await create_user(session, settings, full_name="Ada Lovelace")
    await login(client, user.email, DEFAULT_PASSWORD, headers={"User-Agent": "curl/8.1.2"})
    await sign_in(client, user.email, DEFAULT_PASSWORD)
    page = await client.get("/account", headers=HTML)
    assert page.status_code == 200
    assert 'value="Ada Lovelace"' in page.text
    assert "This device" in page.text
    assert "curl 8" in page.text
    assert "API token" in page.text
    assert "Sign out everywhere else" in page.text
    assert "Recent activity" in page.text
    assert 'href="/account"' in page.text  # the header links here


async def test_profile_form(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    user = await create_user(session, settings, full_name="Old Name")
    await sign_in(client, user.email, DEFAULT_PASSWORD)
    for name in ("   ", "x" * 101):
        response = await post_form(
            client, "/account/profile", {"full_name": name}, from_page="/account"
        )
        assert response.status_code == 422, name
        assert _error(response.text, "full_name")
    # NUL never reaches the form: the input guard answers with the site's 422 page.
    nul = await post_form(
        client, "/account/profile", {"full_name": "bad\x00name"}, from_page="/account"
    )
    assert nul.status_code == 422
    assert "full_name" in nul.text
    assert "NUL" in nul.text
    long = await post_form(
        client, "/account/profile", {"full_name": "y" * 150}, from_page="/account"
    )
    assert 'value="' + "y" * 100 + '"' in long.text  # the input comes back (cut to the limit)
    ok = await post_form(
        client, "/account/profile", {"full_name": " Ada Byron "}, from_page="/account"
    )
    assert ok.status_code == 303
    await session.refresh(user)
    assert user.full_name == "Ada Byron"


async def test_password_form_errors_and_success(
    client: httpx.AsyncClient,
    other_browser: httpx.AsyncClient,
    session: AsyncSession,
    settings: Settings,
    outbox: Outbox,
) -> None:
    user = await create_user(session, settings, email=_email())
    await sign_in(client, user.email, DEFAULT_PASSWORD)
    await sign_in(other_browser, user.email, DEFAULT_PASSWORD)
    api = (await login(client, user.email, DEFAULT_PASSWORD)).json()
    cases = [
        ({"password": NEW, "password_confirm": NEW}, "current_password", 422),
        (
            {"current_password": "wrong-one-here", "password": NEW, "password_confirm": NEW},
            "current_password",
            403,
        ),
        (
            {"current_password": DEFAULT_PASSWORD, "password": NEW, "password_confirm": "other"},
            "password_confirm",
            422,
        ),
        (
            {
                "current_password": DEFAULT_PASSWORD,
                "password": "short",
                "password_confirm": "short",
            },
            "password",
            422,
        ),
        (
            {
                "current_password": DEFAULT_PASSWORD,
                "password": user.email,
                "password_confirm": user.email,
            },
            "password",
            422,
        ),
    ]
    for data, field, status in cases:
        response = await post_form(client, "/account/password", data, from_page="/account")
        assert response.status_code == status, (data, response.text[:500])
        assert _error(response.text, field)
        for value in data.values():
            if value != user.email:  # the address is on the form (for password managers)
                assert f'value="{value}"' not in response.text  # never a password again
    assert (await login(client, user.email, DEFAULT_PASSWORD)).status_code == 200
    assert await outbox.messages(user.email) == []

    ok = await post_form(
        client,
        "/account/password",
        {"current_password": DEFAULT_PASSWORD, "password": NEW, "password_confirm": NEW},
        from_page="/account",
    )
    assert ok.status_code == 303
    # This browser stays signed in; every other session ends.
    assert (await client.get("/account", headers=HTML)).status_code == 200
    assert (await other_browser.get("/account", headers=HTML)).status_code == 303
    assert (await client.get("/api/v1/auth/me", headers=bearer(api))).status_code == 401
    assert (await login(client, user.email, NEW)).status_code == 200
    [mail] = await outbox.messages(user.email)
    assert mail.subject == "Your Campus password was changed"


async def test_preferences_form(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    user = await create_user(session, settings, role="teacher")
    await sign_in(client, user.email, DEFAULT_PASSWORD)
    page = await client.get("/account", headers=HTML)
    assert "Weekly teaching digest" in page.text
    ok = await post_form(
        client, "/account/preferences", {"reminder_emails": "on"}, from_page="/account"
    )
    assert ok.status_code == 303
    await session.refresh(user)
    assert (user.reminder_emails, user.digest_emails) == (True, False)
    await post_form(client, "/account/preferences", {"digest_emails": "on"}, from_page="/account")
    await session.refresh(user)
    assert (user.reminder_emails, user.digest_emails) == (False, True)
    me = (await login(client, user.email, DEFAULT_PASSWORD)).json()
    body = (await client.get("/api/v1/auth/me", headers=bearer(me))).json()
    assert (body["reminder_emails"], body["digest_emails"]) == (False, True)


async def test_resend_verification_from_account(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, outbox: Outbox
) -> None:
    verified = await create_user(session, settings, email=_email())
    await sign_in(client, verified.email, DEFAULT_PASSWORD)
    page = await client.get("/account", headers=HTML)
    assert "Send the link again" not in page.text
    response = await post_form(client, "/account/verify-email", {}, from_page="/account")
    assert response.status_code == 303
    assert await outbox.messages(verified.email) == []


async def test_sign_out_one_device_and_everywhere_else(
    client: httpx.AsyncClient,
    other_browser: httpx.AsyncClient,
    session: AsyncSession,
    settings: Settings,
) -> None:
    user = await create_user(session, settings)
    stranger = await create_user(session, settings)
    await sign_in(client, user.email, DEFAULT_PASSWORD)
    await sign_in(other_browser, user.email, DEFAULT_PASSWORD)
    stranger_api = (await login(client, stranger.email, DEFAULT_PASSWORD)).json()
    [stranger_session] = (
        (await session.execute(select(AuthSession.id).where(AuthSession.user_id == stranger.id)))
        .scalars()
        .all()
    )

    page = await client.get("/account", headers=HTML)
    ids = re.findall(r'action="/account/devices/([0-9a-f]{64})/sign-out"', page.text)
    assert len(ids) == 1  # the other browser; this one has no button of its own
    response = await client.post(
        f"/account/devices/{ids[0]}/sign-out",
        data={"csrf_token": csrf_from(page.text)},
        headers=HTML,
    )
    assert response.status_code == 303
    assert (await other_browser.get("/account", headers=HTML)).status_code == 303
    assert (await client.get("/account", headers=HTML)).status_code == 200

    # Junk ids are refused, never a 500.
    for junk in ("%00", "x" * 65):
        refused = await post_form(
            client, f"/account/devices/{junk}/sign-out", {}, from_page="/account"
        )
        assert refused.status_code in (303, 422), junk
    # Someone else's session id changes nothing.
    response = await post_form(
        client, f"/account/devices/{stranger_session}/sign-out", {}, from_page="/account"
    )
    assert response.status_code == 303
    follow = await client.get("/account", headers=HTML)
    assert "already signed out" in follow.text
    assert (await client.get("/api/v1/auth/me", headers=bearer(stranger_api))).status_code == 200

    await sign_in(other_browser, user.email, DEFAULT_PASSWORD)
    api = (await login(client, user.email, DEFAULT_PASSWORD)).json()
    response = await post_form(client, "/account/devices/others/sign-out", {}, from_page="/account")
    assert response.status_code == 303
    assert (await other_browser.get("/account", headers=HTML)).status_code == 303
    assert (await client.get("/api/v1/auth/me", headers=bearer(api))).status_code == 401
    assert (await client.get("/account", headers=HTML)).status_code == 200


async def test_device_sign_out_needs_csrf(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    user = await create_user(session, settings)
    await sign_in(client, user.email, DEFAULT_PASSWORD)
    response = await client.post("/account/devices/others/sign-out", headers=HTML)
    assert response.status_code == 403


async def test_reset_on_a_browser_signed_in_as_someone_else_ends_that_session(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, outbox: Outbox
) -> None:
    other = await create_user(session, settings, full_name="Somebody Else")
    user = await create_user(session, settings, email=_email(), full_name="Rightful Owner")
    await sign_in(client, other.email, DEFAULT_PASSWORD)
    old_cookie = client.cookies.get("campus_session")
    token = await _reset_token(client, outbox, user.email)
    response = await post_form(
        client,
        "/reset-password",
        {"token": token, "new_password": NEW, "new_password_confirm": NEW},
        from_page=f"/reset-password?token={token}",
    )
    assert response.status_code == 303
    account = await client.get("/account", headers=HTML)
    assert "Rightful Owner" in account.text
    async with httpx.AsyncClient(
        transport=client._transport, base_url="http://testserver"
    ) as stale:
        stale.cookies.set("campus_session", old_cookie or "")
        assert (await stale.get("/account", headers=HTML)).status_code == 303


async def test_signing_out_this_device_from_the_list_is_signing_out(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    user = await create_user(session, settings)
    await sign_in(client, user.email, DEFAULT_PASSWORD)
    cookie = client.cookies.get("campus_session") or ""
    this_id = hashlib.sha256(cookie.encode()).hexdigest()
    response = await post_form(
        client, f"/account/devices/{this_id}/sign-out", {}, from_page="/account"
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/"
    assert any(
        c.startswith('campus_session=""') or "max-age=0" in c.lower()
        for c in response.headers.get_list("set-cookie")
        if c.startswith("campus_session=")
    )
    row = await session.get(AuthSession, this_id)
    assert row is not None
    await session.refresh(row)
    assert row.revoked_at is not None
