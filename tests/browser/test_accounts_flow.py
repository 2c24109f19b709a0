"""Browser flows: register, sign out, sign in; CSRF-less POST; form errors."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from campus.config import Settings
from tests.browser.conftest import snap
from tests.factories import DEFAULT_PASSWORD, create_user


async def test_register_sign_out_and_sign_in(page: Any) -> None:
    await page.goto("/register")
    await snap(page, "register")
    await page.get_by_label("Full name").fill("Ada Lovelace")
    await page.get_by_label("Email").fill("ada@campus.example")
    await page.get_by_label("Password").fill("short")
    await page.get_by_role("button", name="Create account").click()
    # The form comes back with the message beside the password and the input kept.
    await page.locator("#e-password").wait_for()
    assert await page.get_by_label("Full name").input_value() == "Ada Lovelace"
    assert await page.get_by_label("Password").input_value() == ""
    await snap(page, "register-errors")

    await page.get_by_label("Password").fill("analytical-engine-1843")
    await page.get_by_role("button", name="Create account").click()
    await page.get_by_text("Welcome to Campus, Ada Lovelace!").wait_for()

    await page.get_by_role("button", name="Sign out").click()
    await page.get_by_text("You are signed out.").wait_for()
    assert await page.get_by_role("link", name="Sign in").count() == 1

    await page.get_by_role("link", name="Sign in").click()
    await page.get_by_label("Email").fill("ada@campus.example")
    await page.get_by_label("Password").fill("wrong-password")
    await page.get_by_role("button", name="Sign in").click()
    await page.get_by_text("Incorrect email or password.").wait_for()
    assert await page.get_by_label("Email").input_value() == "ada@campus.example"
    await snap(page, "login-error")

    await page.get_by_label("Password").fill("analytical-engine-1843")
    await page.get_by_role("button", name="Sign in").click()
    await page.get_by_text("Signed in as Ada Lovelace.").wait_for()
    cookies = {c["name"]: c for c in await page.context.cookies()}
    session_cookie = cookies["campus_session"]
    assert session_cookie["httpOnly"] is True
    assert session_cookie["sameSite"] == "Lax"
    # Scripts cannot read the session cookie.
    assert "campus_session" not in await page.evaluate("document.cookie")
    assert page.console_errors == []


async def test_keyboard_only_sign_in(page: Any, db: AsyncSession, settings: Settings) -> None:
    user = await create_user(db, settings, full_name="Keyboard User")
    await db.commit()
    await page.goto("/login")
    await page.get_by_label("Email").focus()
    await page.keyboard.type(user.email)
    await page.keyboard.press("Tab")
    await page.keyboard.type(DEFAULT_PASSWORD)
    await page.keyboard.press("Enter")
    await page.get_by_text("Signed in as Keyboard User.").wait_for()


async def test_post_without_csrf_token_gets_the_friendly_403(
    page: Any, db: AsyncSession, settings: Settings
) -> None:
    user = await create_user(db, settings)
    await db.commit()
    await page.goto("/login")
    await page.get_by_label("Email").fill(user.email)
    await page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    await page.evaluate("document.querySelector('input[name=csrf_token]').remove()")
    await page.get_by_role("button", name="Sign in").click()
    heading = page.get_by_role("heading", name="Form expired")
    await heading.wait_for()
    assert re.search(r"403", await page.locator(".error-code").inner_text())
    assert "campus_session" not in {c["name"] for c in await page.context.cookies()}
    await snap(page, "csrf-403")


async def test_private_page_sends_anonymous_visitors_to_sign_in(
    page: Any, db: AsyncSession, settings: Settings
) -> None:
    await page.goto("/logout")
    assert page.url.endswith("/")
    response = await page.goto("/no-such-page")
    assert response.status == 404
    await page.get_by_role("heading", name="Not Found").wait_for()
    await snap(page, "not-found")
