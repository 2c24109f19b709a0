"""Browser flows of the self-service pages: forgot password -> mailed link -> reset ->
signed in; confirming the email from the mailed link; signing another device out and that
device's next request failing. Screenshots of /account, /forgot-password, /reset-password."""

from __future__ import annotations

import asyncio
import re
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from campus.config import Settings
from campus.email import EmailMessage, MemoryBackend
from tests.browser.conftest import LiveServer, snap
from tests.factories import DEFAULT_PASSWORD, create_user, unique_email

LINK = re.compile(r"(https?://\S+?\?token=[A-Za-z0-9_\-]+)")
NEW = "a-brand-new-passphrase"


async def _mailed_link(to: str, path: str, *, after: int = 0) -> str:
    """The newest link to ``path`` mailed to ``to`` by the live server (polls its outbox)."""
    for _ in range(200):
        for message in reversed(MemoryBackend.outbox[after:]):
            if message.to == to:
                for link in LINK.findall(message.text):
                    if f"{path}?token=" in link:
                        return str(link)
        await asyncio.sleep(0.05)
    raise AssertionError(f"no {path} link mailed to {to}")


async def _mails(to: str, after: int) -> list[EmailMessage]:
    return [m for m in MemoryBackend.outbox[after:] if m.to == to]


async def _sign_in(page: Any, email: str, password: str = DEFAULT_PASSWORD) -> None:
    await page.goto("/login")
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Sign in").click()
    await page.get_by_text("Signed in as").wait_for()


async def test_forgot_password_mail_reset_and_signed_in(
    page: Any, db: AsyncSession, settings: Settings
) -> None:
    email = unique_email("forgot").replace(".test", ".com")
    await create_user(db, settings, email=email, full_name="Rosa Reset")
    await db.commit()
    start = len(MemoryBackend.outbox)

    await page.goto("/login")
    await page.get_by_role("link", name="Forgot password?").click()
    await page.get_by_role("heading", name="Forgot your password?").wait_for()
    await page.get_by_label("Email").fill("not-an-email")
    await page.get_by_role("button", name="Send me a reset link").click()
    await page.locator("#e-email").wait_for()
    assert await page.get_by_label("Email").input_value() == "not-an-email"
    await snap(page, "forgot-password")
    await page.get_by_label("Email").fill(email)
    await page.get_by_role("button", name="Send me a reset link").click()
    await page.get_by_role("heading", name="Check your email").wait_for()
    await snap(page, "forgot-password-sent")

    link = await _mailed_link(email, "/reset-password", after=start)
    await page.goto(link)
    await page.get_by_role("heading", name="Choose a new password").wait_for()
    await page.get_by_label("New password", exact=True).fill(NEW)
    await page.get_by_label("New password, again").fill(NEW + "-typo")
    await page.get_by_role("button", name="Set new password").click()
    await page.locator("#e-new_password_confirm").wait_for()
    assert await page.get_by_label("New password", exact=True).input_value() == ""
    await snap(page, "reset-password")
    await page.get_by_label("New password", exact=True).fill(NEW)
    await page.get_by_label("New password, again").fill(NEW)
    await page.get_by_role("button", name="Set new password").click()
    await page.get_by_text("Your password has been changed and you are signed in.").wait_for()
    assert page.url.endswith("/account")
    await page.get_by_role("heading", name="Your account").wait_for()
    assert await page.get_by_text("This device").count() == 1
    await snap(page, "account")

    # A wrong current password comes back beside its field, nothing typed shown again.
    await page.get_by_label("Current password").fill("not-my-password")
    await page.get_by_label("New password", exact=True).fill("another-passphrase-2")
    await page.get_by_label("New password, again").fill("another-passphrase-2")
    await page.get_by_role("button", name="Change password").click()
    await page.locator("#e-current_password").wait_for()
    assert "not correct" in await page.locator("#e-current_password").inner_text()
    assert await page.get_by_label("Current password").input_value() == ""
    await snap(page, "account-password-error")

    # The link is dead after use, and the page says what to do.
    await page.goto(link)
    await page.get_by_role("heading", name="This link does not work").wait_for()
    assert await page.get_by_role("button", name="Send me a new reset link").count() == 1
    await snap(page, "reset-password-used")
    subjects = [m.subject for m in await _mails(email, start)]
    assert "Your Campus password was changed" in subjects
    assert page.console_errors == []


async def test_verify_email_from_the_mailed_link(page: Any) -> None:
    email = unique_email("verify").replace(".test", ".com")
    start = len(MemoryBackend.outbox)
    await page.goto("/register")
    await page.get_by_label("Full name").fill("Vera Fied")
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(NEW)
    await page.get_by_role("button", name="Create account").click()
    await page.get_by_text("Welcome to Campus, Vera Fied!").wait_for()
    await page.get_by_role("link", name="your account").click()
    await page.get_by_text("Not confirmed").wait_for()

    link = await _mailed_link(email, "/verify-email", after=start)
    await page.goto(link)  # opening the link confirms
    await page.get_by_text("Thank you: your email address is confirmed.").wait_for()
    assert page.url.endswith("/account")
    assert await page.locator(".badge-ok", has_text="Confirmed").count() == 1
    await page.goto(link)
    await page.get_by_role("heading", name="Email confirmed").wait_for()
    assert page.console_errors == []


async def test_sign_out_another_device_and_its_next_request_fails(
    page: Any, browser: Any, live_server: LiveServer, db: AsyncSession, settings: Settings
) -> None:
    user = await create_user(db, settings, full_name="Two Devices")
    await db.commit()
    phone_context = await browser.new_context(
        base_url=live_server.url,
        viewport={"width": 390, "height": 844},
        user_agent=(
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
            "(KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1"
        ),
    )
    try:
        phone = await phone_context.new_page()
        await _sign_in(phone, user.email)
        await _sign_in(page, user.email)

        await page.goto("/account")
        devices = page.locator(".device")
        assert await devices.count() == 2
        phone_row = devices.filter(has_text="iPhone")
        assert await phone_row.count() == 1
        await snap(page, "account-devices")
        await phone_row.get_by_role("button", name="Sign out").click()
        await page.get_by_text("That device is signed out.").wait_for()
        assert await page.locator(".device").count() == 1

        # The phone's next request finds its session ended: back to sign in.
        await phone.goto("/account")
        await phone.get_by_role("heading", name="Sign in").wait_for()
        assert "/login?next=/account" in phone.url
        await page.goto("/account")
        await page.get_by_role("heading", name="Your account").wait_for()
    finally:
        await phone_context.close()
    assert page.console_errors == []
