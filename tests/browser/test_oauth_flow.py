"""Browser flows of social sign-in: Chromium clicks "Continue with GitHub" on /login, goes
through the loopback provider and lands signed in on the cabinet; a cancelled consent
comes back to /login with the reason. Screenshots of /login and /register with the buttons."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from campus.config import Settings
from campus.models.accounts import AuthSession, OAuthAccount, User
from tests.accounts.fakeoauth import (
    FakeProvider,
    GitHubAccount,
    GoogleAccount,
    running_fake_provider,
)
from tests.browser.conftest import campus_in_thread, snap


@pytest.fixture(scope="module")
def fake_provider() -> Iterator[FakeProvider]:
    with running_fake_provider() as fake:
        yield fake


@pytest.fixture(scope="module")
def oauth_server(settings: Settings, fake_provider: FakeProvider) -> Iterator[str]:
    """A Campus server with both providers pointed at the loopback provider."""
    with campus_in_thread(
        settings, name="campus-oauth-server", **fake_provider.settings_update()
    ) as (url, _):
        yield url


async def test_continue_with_github_signs_in_on_the_cabinet(
    page: Any, oauth_server: str, fake_provider: FakeProvider, db: AsyncSession
) -> None:
    fake_provider.reset()
    fake_provider.github = GitHubAccount(
        777,
        "grace",
        "Grace Hopper",
        [{"email": "grace@campus.example", "primary": True, "verified": True}],
    )
    await page.goto(f"{oauth_server}/cabinet")
    assert page.url == f"{oauth_server}/login?next=/cabinet"
    await page.get_by_role("link", name="Continue with GitHub").click()
    await page.wait_for_url(f"{oauth_server}/cabinet")
    await page.get_by_text("Signed in with GitHub as Grace Hopper.").wait_for()
    assert await page.get_by_role("button", name="Sign out").count() == 1
    cookies = {c["name"]: c for c in await page.context.cookies()}
    assert cookies["campus_session"]["httpOnly"] is True
    assert "campus_oauth_github" not in cookies  # the flow cookie is used up
    # The provider was asked for the right things.
    asked = fake_provider.authorize_requests[-1]
    assert asked["redirect_uri"] == f"{oauth_server}/api/v1/auth/oauth/github/callback"
    assert len(asked["state"]) >= 16
    user = (await db.execute(select(User).where(User.email == "grace@campus.example"))).scalar_one()
    assert user.password_hash is None
    link = (await db.execute(select(OAuthAccount))).scalar_one()
    assert link.user_id == user.id
    web = (await db.execute(select(AuthSession).where(AuthSession.user_id == user.id))).scalar_one()
    assert web.kind == "web"
    assert web.user_agent
    assert "Chrome" in web.user_agent
    await snap(page, "oauth-cabinet")

    await page.goto(f"{oauth_server}/account/sign-in-methods")
    await page.get_by_text("Your only way to sign in").wait_for()
    await snap(page, "oauth-sign-in-methods")

    # Link Google too (another address at Google), then GitHub may go.
    fake_provider.google = GoogleAccount("g-grace", "grace@gmail.example", True, "Grace H")
    await page.get_by_role("link", name="Link Google").click()
    await page.wait_for_url(f"{oauth_server}/account/sign-in-methods")
    await page.get_by_text("Google is now linked to your account.").wait_for()
    await snap(page, "oauth-sign-in-methods-two")
    await page.get_by_role("button", name="Unlink GitHub").click()
    await page.get_by_text("GitHub is no longer linked to your account.").wait_for()
    await page.get_by_text("Your only way to sign in").wait_for()
    assert await page.get_by_role("button", name="Unlink Google").count() == 0
    user_id = user.id
    await db.rollback()  # a fresh snapshot: the server has committed since the last read
    providers = (
        (await db.execute(select(OAuthAccount.provider).where(OAuthAccount.user_id == user_id)))
        .scalars()
        .all()
    )
    assert list(providers) == ["google"]
    assert page.console_errors == []


async def test_cancelled_consent_comes_back_to_login(
    page: Any, oauth_server: str, fake_provider: FakeProvider
) -> None:
    fake_provider.reset()
    fake_provider.deny = True
    await page.goto(f"{oauth_server}/login")
    await page.get_by_role("link", name="Continue with Google").click()
    await page.wait_for_url(f"{oauth_server}/login")
    await page.get_by_text("Signing in with Google was cancelled").wait_for()
    assert "campus_session" not in {c["name"] for c in await page.context.cookies()}
    await snap(page, "oauth-login-cancelled")


async def test_login_and_register_show_the_provider_buttons(page: Any, oauth_server: str) -> None:
    for path in ("/login", "/register"):
        await page.goto(f"{oauth_server}{path}")
        for label in ("Continue with GitHub", "Continue with Google"):
            await page.get_by_role("link", name=label).wait_for()
        await snap(page, f"oauth{path.replace('/', '-')}")
        for width in (390, 1280):
            await page.set_viewport_size({"width": width, "height": 900})
            overflow = await page.evaluate(
                "document.documentElement.scrollWidth > document.documentElement.clientWidth"
            )
            assert not overflow, f"{path} overflows at {width}px"
    assert page.console_errors == []
