"""Devices over the API (API.md §2): GET /auth/sessions, DELETE /auth/sessions/{id},
POST /auth/sessions/revoke-others; who may not; last-used bookkeeping; the activity log
and its mails (new device, password changed)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from campus.accounts.devices import describe
from campus.config import Settings
from campus.kit.clock import utcnow
from campus.models.accounts import AccountEvent, AccountEventKind, AuthSession
from tests.accounts.conftest import ClientFactory, Outbox, bearer, login
from tests.factories import DEFAULT_PASSWORD, create_user, unique_email
from tests.pagehelpers import HTML, sign_in

SESSIONS = "/api/v1/auth/sessions"
FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0"
FIREFOX_NEXT = FIREFOX.replace("121.0", "122.0")
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1"
)
NEW = "a-brand-new-passphrase"


async def _login(client: httpx.AsyncClient, email: str, agent: str = FIREFOX) -> dict[str, Any]:
    response = await login(client, email, DEFAULT_PASSWORD, headers={"User-Agent": agent})
    assert response.status_code == 200, response.text
    tokens: dict[str, Any] = response.json()
    return tokens


async def _sessions(client: httpx.AsyncClient, tokens: dict[str, Any]) -> list[dict[str, Any]]:
    response = await client.get(SESSIONS, headers=bearer(tokens))
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_list_shows_own_live_sessions_with_device_details(
    make_client: ClientFactory, session: AsyncSession, settings: Settings
) -> None:
    client = await make_client(ip="127.0.0.1")
    user = await create_user(session, settings)
    other = await create_user(session, settings)
    laptop = await login(
        client,
        user.email,
        DEFAULT_PASSWORD,
        headers={"User-Agent": FIREFOX, "X-Forwarded-For": "203.0.113.7"},
    )
    phone = await login(
        client,
        user.email,
        DEFAULT_PASSWORD,
        headers={"User-Agent": IPHONE, "X-Forwarded-For": "198.51.100.9"},
    )
    await _login(client, other.email)
    laptop_tokens, phone_tokens = laptop.json(), phone.json()

    response = await client.get(SESSIONS, headers=bearer(phone_tokens))
    assert response.status_code == 200
    body = response.json()
    assert body["total"] == 2
    assert {"items", "total", "page", "page_size", "pages"} <= set(body)
    by_ip = {item["ip"]: item for item in body["items"]}
    assert set(by_ip) == {"203.0.113.7", "198.51.100.9"}
    iphone = by_ip["198.51.100.9"]
    assert iphone["current"] is True
    assert by_ip["203.0.113.7"]["current"] is False
    assert iphone["kind"] == "api"
    assert iphone["user_agent"] == IPHONE
    assert iphone["browser"] == "Mobile Safari 17"
    assert iphone["os"].startswith("iOS 17")
    assert iphone["device"] == "iPhone"
    assert iphone["label"].startswith("Mobile Safari 17 on iOS")
    assert by_ip["203.0.113.7"]["label"] == "Firefox 121 on Windows 10"
    for item in body["items"]:
        assert {"id", "created_at", "last_used_at", "expires_at"} <= set(item)
        assert item["created_at"].endswith(("+00:00", "Z"))
    # Never a token in the list.
    text = response.text
    for tokens in (laptop_tokens, phone_tokens):
        assert tokens["access_token"] not in text
        assert tokens["refresh_token"] not in text


async def test_list_pages_and_sorts_like_every_list(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    user = await create_user(session, settings)
    tokens = [await _login(client, user.email) for _ in range(3)]
    first = await client.get(SESSIONS, params={"limit": 2}, headers=bearer(tokens[0]))
    assert first.status_code == 200
    assert first.json()["total"] == 3
    assert len(first.json()["items"]) == 2
    assert first.json()["pages"] == 2
    oldest = await client.get(SESSIONS, params={"sort": "created_at"}, headers=bearer(tokens[0]))
    created = [item["created_at"] for item in oldest.json()["items"]]
    assert created == sorted(created)
    for bad in ({"sort": "ip"}, {"limit": 0}, {"limit": 101}, {"skip": -1}):
        assert (
            await client.get(SESSIONS, params=bad, headers=bearer(tokens[0]))
        ).status_code == 422


async def test_web_sessions_are_devices_too(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    user = await create_user(session, settings)
    await sign_in(client, user.email, DEFAULT_PASSWORD)
    tokens = await _login(client, user.email)
    kinds = sorted(item["kind"] for item in await _sessions(client, tokens))
    assert kinds == ["api", "web"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", SESSIONS),
        ("DELETE", f"{SESSIONS}/some-id"),
        ("POST", f"{SESSIONS}/revoke-others"),
    ],
)
async def test_anonymous_gets_401(client: httpx.AsyncClient, method: str, path: str) -> None:
    response = await client.request(method, path)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].lower().startswith("bearer")
    assert response.headers["content-type"].startswith("application/problem+json")
    # The page cookie is no key to the API either.
    bad = await client.request(method, path, headers={"Authorization": "Bearer nonsense"})
    assert bad.status_code == 401


async def test_delete_ends_that_session_at_once(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    user = await create_user(session, settings)
    keep = await _login(client, user.email)
    lost = await _login(client, user.email, IPHONE)
    [target] = [item for item in await _sessions(client, keep) if not item["current"]]

    response = await client.delete(f"{SESSIONS}/{target['id']}", headers=bearer(keep))
    assert response.status_code == 204
    assert (await client.get("/api/v1/auth/me", headers=bearer(lost))).status_code == 401
    refresh = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": lost["refresh_token"]}
    )
    assert refresh.status_code == 401
    assert [item["current"] for item in await _sessions(client, keep)] == [True]
    # Gone is gone: the same id again is a 404.
    again = await client.delete(f"{SESSIONS}/{target['id']}", headers=bearer(keep))
    assert again.status_code == 404
    assert again.json()["type"].endswith("session-not-found")


async def test_another_users_session_is_404_and_keeps_working(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    mallory = await create_user(session, settings)
    alice = await create_user(session, settings)
    mallory_tokens = await _login(client, mallory.email)
    alice_tokens = await _login(client, alice.email)
    [alice_session] = await _sessions(client, alice_tokens)

    response = await client.delete(
        f"{SESSIONS}/{alice_session['id']}", headers=bearer(mallory_tokens)
    )
    assert response.status_code == 404
    assert response.json()["status"] == 404
    assert (await client.get("/api/v1/auth/me", headers=bearer(alice_tokens))).status_code == 200
    for junk in ("no-such-session", "x" * 64, "1"):
        missing = await client.delete(f"{SESSIONS}/{junk}", headers=bearer(mallory_tokens))
        assert missing.status_code == 404, junk
    # Not a session id at all (too long, NUL, other characters): 422, never a 500.
    for junk in ("x" * 65, "%00", "a%20b", "%C3%A9", "a.b"):
        invalid = await client.delete(f"{SESSIONS}/{junk}", headers=bearer(mallory_tokens))
        assert invalid.status_code == 422, junk


async def test_delete_current_session_signs_this_client_out(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    user = await create_user(session, settings)
    tokens = await _login(client, user.email)
    [current] = await _sessions(client, tokens)
    assert (
        await client.delete(f"{SESSIONS}/{current['id']}", headers=bearer(tokens))
    ).status_code == 204
    assert (await client.get(SESSIONS, headers=bearer(tokens))).status_code == 401


async def test_revoke_others_keeps_only_the_current_one(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    user = await create_user(session, settings)
    bystander = await create_user(session, settings)
    current = await _login(client, user.email)
    others = [await _login(client, user.email, IPHONE) for _ in range(2)]
    await sign_in(client, user.email, DEFAULT_PASSWORD)  # a browser too
    bystander_tokens = await _login(client, bystander.email)

    response = await client.post(f"{SESSIONS}/revoke-others", headers=bearer(current))
    assert response.status_code == 204
    assert response.content == b""
    for tokens in others:
        assert (await client.get("/api/v1/auth/me", headers=bearer(tokens))).status_code == 401
    assert (await client.get("/cabinet", headers=HTML)).status_code == 303  # the browser too
    assert [item["current"] for item in await _sessions(client, current)] == [True]
    # Nobody else's sessions end.
    assert (
        await client.get("/api/v1/auth/me", headers=bearer(bystander_tokens))
    ).status_code == 200


async def test_last_used_moves_at_most_once_a_minute(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    user = await create_user(session, settings)
    tokens = await _login(client, user.email)
    [item] = await _sessions(client, tokens)
    row = await session.get(AuthSession, item["id"])
    assert row is not None
    long_ago = utcnow() - timedelta(minutes=10)
    await session.execute(
        update(AuthSession).where(AuthSession.id == item["id"]).values(last_used_at=long_ago)
    )
    await client.get("/api/v1/auth/me", headers=bearer(tokens))
    touched = (
        await session.execute(select(AuthSession.last_used_at).where(AuthSession.id == item["id"]))
    ).scalar_one()
    assert touched > utcnow() - timedelta(seconds=30)
    # Within the minute nothing is written again.
    await client.get("/api/v1/auth/me", headers=bearer(tokens))
    again = (
        await session.execute(select(AuthSession.last_used_at).where(AuthSession.id == item["id"]))
    ).scalar_one()
    assert again == touched


async def test_web_session_last_used_moves_too(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    user = await create_user(session, settings)
    await sign_in(client, user.email, DEFAULT_PASSWORD)
    long_ago = utcnow() - timedelta(hours=2)
    await session.execute(
        update(AuthSession).where(AuthSession.user_id == user.id).values(last_used_at=long_ago)
    )
    assert (await client.get("/cabinet", headers=HTML)).status_code == 200
    [last_used] = (
        (
            await session.execute(
                select(AuthSession.last_used_at).where(AuthSession.user_id == user.id)
            )
        )
        .scalars()
        .all()
    )
    assert last_used > utcnow() - timedelta(seconds=30)


# --- the activity log and its mails -----------------------------------------------------------


async def _events(session: AsyncSession, user_id: int) -> list[AccountEvent]:
    stmt = select(AccountEvent).where(AccountEvent.user_id == user_id).order_by(AccountEvent.id)
    return list((await session.execute(stmt)).scalars().all())


async def test_sign_in_from_a_new_device_is_mailed_once(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, outbox: Outbox
) -> None:
    user = await create_user(session, settings, email=unique_email("dev"))
    await _login(client, user.email, FIREFOX)  # the account's first device: no mail
    await _login(client, user.email, FIREFOX_NEXT)  # a browser update is no new device
    assert await outbox.messages(user.email) == []

    await _login(client, user.email, IPHONE)
    [mail] = await outbox.messages(user.email)
    assert mail.subject == "New sign-in to your Campus account"
    assert "Mobile Safari 17 on iOS 17" in mail.text
    assert f"{settings.base_url}/account" in mail.text
    await _login(client, user.email, IPHONE)  # known now
    assert len(await outbox.messages(user.email)) == 1

    events = await _events(session, user.id)
    assert [e.kind for e in events] == [AccountEventKind.SIGN_IN] * 4
    assert [e.is_new_device for e in events] == [False, False, True, False]
    assert events[2].user_agent == IPHONE
    assert events[2].device_key == describe(IPHONE).key
    assert all(e.method == "password" and e.session_id for e in events)


async def test_password_change_is_logged_and_mailed(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, outbox: Outbox
) -> None:
    user = await create_user(session, settings)
    tokens = await _login(client, user.email)
    response = await client.patch(
        "/api/v1/auth/me",
        json={"password": NEW, "current_password": DEFAULT_PASSWORD},
        headers={**bearer(tokens), "User-Agent": FIREFOX},
    )
    assert response.status_code == 200, response.text
    [mail] = await outbox.messages(user.email)
    assert mail.subject == "Your Campus password was changed"
    assert "Firefox 121 on Windows 10" in mail.text
    assert "was changed on" in mail.text
    [_, event] = await _events(session, user.id)
    assert event.kind == AccountEventKind.PASSWORD_CHANGED
    [current] = await _sessions(client, tokens)
    assert event.session_id == current["id"]
    # A refused change (wrong current password) is neither logged nor mailed.
    wrong = await client.patch(
        "/api/v1/auth/me",
        json={"password": "another-new-one-2", "current_password": "not-it-at-all"},
        headers=bearer(tokens),
    )
    assert wrong.status_code == 403
    assert len(await outbox.messages(user.email)) == 1
    assert len(await _events(session, user.id)) == 2


async def test_password_reset_is_logged_and_mailed(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, outbox: Outbox
) -> None:
    user = await create_user(session, settings, email=unique_email("rst").replace(".test", ".com"))
    assert (
        await client.post("/api/v1/auth/password-reset", json={"email": user.email})
    ).status_code == 202
    token = await outbox.last_token(user.email, "/reset-password")
    done = await client.post(
        "/api/v1/auth/password-reset/confirm",
        json={"token": token, "new_password": NEW},
        headers={"User-Agent": IPHONE},
    )
    assert done.status_code == 204
    mails = await outbox.messages(user.email)
    assert [m.subject for m in mails] == [
        "Reset your Campus password",
        "Your Campus password was changed",
    ]
    assert "reset with a mailed link" in mails[1].text
    [event] = await _events(session, user.id)
    assert event.kind == AccountEventKind.PASSWORD_RESET
    assert event.user_agent == IPHONE
