"""Password reset (request, confirm) and email verification, through the mail outbox."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import httpx
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from campus.config import Settings
from campus.kit.clock import utcnow
from campus.models.accounts import AccountToken, User
from tests.accounts.conftest import Outbox, bearer, login
from tests.factories import DEFAULT_PASSWORD, create_user, unique_email

RESET = "/api/v1/auth/password-reset"
CONFIRM = "/api/v1/auth/password-reset/confirm"
VERIFY = "/api/v1/auth/verify-email/confirm"
NEW = "a-brand-new-passphrase"


def _email() -> str:
    """A unique address the API accepts (``.test`` is a special-use domain it refuses)."""
    return unique_email("mail").replace(".test", ".com")


async def test_reset_round_trip_ends_every_session(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, outbox: Outbox
) -> None:
    user = await create_user(session, settings, email="reset-me@example.com", is_verified=False)
    tokens = (await login(client, user.email, DEFAULT_PASSWORD)).json()

    response = await client.post(RESET, json={"email": "  Reset-Me@Example.com "})
    assert response.status_code == 202
    token = await outbox.last_token(user.email, "/reset-password")
    [mail] = await outbox.messages(user.email)
    assert "Reset your Campus password" in mail.subject
    assert mail.html is not None
    assert f"{settings.base_url}/reset-password?token={token}" in mail.html
    # stored hashed, never in clear
    rows = (await session.execute(select(AccountToken.token_hash))).scalars().all()
    assert hashlib.sha256(token.encode()).hexdigest() in rows
    assert token not in rows

    done = await client.post(CONFIRM, json={"token": token, "new_password": NEW})
    assert done.status_code == 204, done.text
    assert (await client.get("/api/v1/auth/me", headers=bearer(tokens))).status_code == 401
    refresh = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    )
    assert refresh.status_code == 401
    assert (await login(client, user.email, DEFAULT_PASSWORD)).status_code == 401
    assert (await login(client, user.email, NEW)).status_code == 200
    # single use
    again = await client.post(CONFIRM, json={"token": token, "new_password": "yet-another-one"})
    assert again.status_code == 400
    assert again.json()["type"].endswith("invalid-token")


async def test_reset_answers_202_for_unknown_and_disabled_without_mail(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, outbox: Outbox
) -> None:
    disabled = await create_user(session, settings, email=_email(), is_active=False)
    for email in ["nobody@example.com", disabled.email]:
        response = await client.post(RESET, json={"email": email})
        assert response.status_code == 202
        assert response.content == b"" or response.json() is None
    assert await outbox.messages("nobody@example.com") == []
    assert await outbox.messages(disabled.email) == []


async def test_reset_request_validation(client: httpx.AsyncClient) -> None:
    for body in [{}, {"email": "nope"}, {"email": "a@example.com", "extra": 1}]:
        assert (await client.post(RESET, json=body)).status_code == 422


async def test_bad_and_expired_tokens_are_400(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, outbox: Outbox
) -> None:
    user = await create_user(session, settings, email=_email())
    assert (await client.post(RESET, json={"email": user.email})).status_code == 202
    token = await outbox.last_token(user.email, "/reset-password")

    bad = await client.post(CONFIRM, json={"token": "x" * 43, "new_password": NEW})
    assert bad.status_code == 400
    # an hour later
    await session.execute(
        update(AccountToken)
        .where(AccountToken.user_id == user.id)
        .values(expires_at=utcnow() - timedelta(seconds=1))
    )
    expired = await client.post(CONFIRM, json={"token": token, "new_password": NEW})
    assert expired.status_code == 400
    assert (await login(client, user.email, DEFAULT_PASSWORD)).status_code == 200


async def test_reset_token_lives_one_hour(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, outbox: Outbox
) -> None:
    user = await create_user(session, settings, email=_email())
    before = utcnow()
    await client.post(RESET, json={"email": user.email})
    row = (
        await session.execute(select(AccountToken).where(AccountToken.user_id == user.id))
    ).scalar_one()
    assert timedelta(minutes=59) < row.expires_at - before <= timedelta(minutes=61)


async def test_confirm_validates_the_new_password(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, outbox: Outbox
) -> None:
    user = await create_user(session, settings, email=_email())
    await client.post(RESET, json={"email": user.email})
    token = await outbox.last_token(user.email, "/reset-password")
    for bad in ["Sh0rt!", "password123", user.email.upper()]:
        response = await client.post(CONFIRM, json={"token": token, "new_password": bad})
        assert response.status_code == 422, response.text
        assert response.json()["errors"][0]["loc"] == ["body", "new_password"]
        assert bad not in response.text
        assert token not in response.text
    # the failed attempts did not use the token up
    assert (
        await client.post(CONFIRM, json={"token": token, "new_password": NEW})
    ).status_code == 204
    missing = await client.post(CONFIRM, json={"new_password": NEW})
    assert missing.status_code == 422


async def test_new_reset_and_password_change_retire_older_links(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, outbox: Outbox
) -> None:
    user = await create_user(session, settings, email=_email())
    await client.post(RESET, json={"email": user.email})
    first = await outbox.last_token(user.email, "/reset-password")
    tokens = (await login(client, user.email, DEFAULT_PASSWORD)).json()
    changed = await client.patch(
        "/api/v1/auth/me",
        json={"password": NEW, "current_password": DEFAULT_PASSWORD},
        headers=bearer(tokens),
    )
    assert changed.status_code == 200
    stale = await client.post(CONFIRM, json={"token": first, "new_password": "another-phrase-9"})
    assert stale.status_code == 400


async def test_registration_mails_a_verification_link(
    client: httpx.AsyncClient, session: AsyncSession, outbox: Outbox
) -> None:
    created = await client.post(
        "/api/v1/auth/register",
        json={"email": "verify@example.com", "password": "a-long-passphrase", "full_name": "V"},
    )
    assert created.status_code == 201
    assert created.json()["is_verified"] is False
    token = await outbox.last_token("verify@example.com", "/verify-email")
    [mail] = await outbox.messages("verify@example.com")
    assert "Confirm your email" in mail.subject
    assert "a-long-passphrase" not in mail.text

    assert (await client.post(VERIFY, json={"token": token})).status_code == 204
    user = (
        await session.execute(select(User).where(User.email == "verify@example.com"))
    ).scalar_one()
    await session.refresh(user)
    assert user.is_verified is True
    tokens = (await login(client, "verify@example.com", "a-long-passphrase")).json()
    me = await client.get("/api/v1/auth/me", headers=bearer(tokens))
    assert me.json()["is_verified"] is True
    # used, bad or of the other kind -> 400
    assert (await client.post(VERIFY, json={"token": token})).status_code == 400
    assert (await client.post(VERIFY, json={"token": "nope"})).status_code == 400
    assert (await client.post(VERIFY, json={})).status_code == 422


async def test_reset_token_is_not_a_verification_token(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, outbox: Outbox
) -> None:
    user = await create_user(session, settings, email=_email(), is_verified=False)
    await client.post(RESET, json={"email": user.email})
    token = await outbox.last_token(user.email, "/reset-password")
    assert (await client.post(VERIFY, json={"token": token})).status_code == 400


async def test_resend_verification(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, outbox: Outbox
) -> None:
    user = await create_user(session, settings, email=_email(), is_verified=False)
    tokens = (await login(client, user.email, DEFAULT_PASSWORD)).json()
    assert (await client.post("/api/v1/auth/verify-email")).status_code == 401
    response = await client.post("/api/v1/auth/verify-email", headers=bearer(tokens))
    assert response.status_code == 202
    token = await outbox.last_token(user.email, "/verify-email")
    assert (await client.post(VERIFY, json={"token": token})).status_code == 204
    # verified: no more mail
    await client.post("/api/v1/auth/verify-email", headers=bearer(tokens))
    assert len(await outbox.messages(user.email)) == 1


async def test_no_mail_when_the_request_fails(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, outbox: Outbox
) -> None:
    await create_user(session, settings, email="taken@example.com")
    response = await client.post(
        "/api/v1/auth/register",
        json={"email": "TAKEN@example.com", "password": "a-long-passphrase", "full_name": "T"},
    )
    assert response.status_code == 409
    assert await outbox.messages("taken@example.com") == []
