"""Buying a course in a browser: the course page's buy button -> (the loopback Stripe's)
checkout page -> Stripe delivers the signed webhook to the live server -> the success page
turns from "processing" to "you are enrolled" -> the paid lesson is readable."""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import uvicorn
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from campus.config import Settings
from campus.main import create_app
from campus.models.accounts import UserRole
from tests.browser.conftest import CHROMIUM, snap
from tests.conftest import service_unavailable, truncate_all
from tests.factories import DEFAULT_PASSWORD, create_course, create_lesson, create_user
from tests.payments.fakestripe import FakeStripe, free_port, running_fake_stripe


@pytest.fixture(scope="module")
def stripe_live(settings: Settings) -> Iterator[tuple[str, FakeStripe]]:
    """A live Campus configured for the loopback Stripe, which sends its webhooks back."""
    if not CHROMIUM.exists():
        service_unavailable(f"Chromium is not installed at {CHROMIUM}")
    with running_fake_stripe() as fake:
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        fake.webhook_url = f"{url}/api/v1/payments/stripe/webhook"
        fake.webhook_delay = 2.0  # long enough to see "processing" first
        server_settings = settings.model_copy(
            update={
                "base_url": url,
                "stripe_secret_key": fake.secret_key,
                "stripe_webhook_secret": fake.webhook_secret,
                "stripe_api_base": fake.url,
            }
        )
        server = uvicorn.Server(
            uvicorn.Config(
                create_app(server_settings),
                host="127.0.0.1",
                port=port,
                log_config=None,
                access_log=False,
                lifespan="on",
            )
        )
        thread = threading.Thread(target=server.run, name="campus-pay-server", daemon=True)
        thread.start()
        deadline = time.monotonic() + 20
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                pytest.fail("the live Campus server did not start")
            time.sleep(0.05)
        try:
            yield url, fake
        finally:
            server.should_exit = True
            thread.join(timeout=20)


@pytest.fixture
async def buyer_page(
    browser: Any, stripe_live: tuple[str, FakeStripe], engine: AsyncEngine
) -> AsyncIterator[Any]:
    url, _ = stripe_live
    context = await browser.new_context(base_url=url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    def on_console(message: Any) -> None:
        # Only Campus's own pages count (the loopback Stripe page has no favicon).
        if message.type == "error" and message.location.get("url", "").startswith(url):
            errors.append(f"{message.text} at {message.location.get('url')}")

    page.on("console", on_console)
    page.console_errors = errors
    try:
        yield page
    finally:
        await context.close()
        await truncate_all(engine)


async def no_horizontal_overflow(page: Any) -> None:
    for width in (390, 1280):
        await page.set_viewport_size({"width": width, "height": 844})
        overflow = await page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"horizontal overflow at {width}px on {page.url}"
    await page.set_viewport_size({"width": 1280, "height": 900})


async def test_buy_a_course_and_read_the_paid_lesson(
    buyer_page: Any, stripe_live: tuple[str, FakeStripe], db: AsyncSession, settings: Settings
) -> None:
    page = buyer_page
    _, fake = stripe_live
    teacher = await create_user(db, settings, role=UserRole.TEACHER, full_name="Tess Teacher")
    buyer = await create_user(db, settings, full_name="Bea Buyer", email="bea@campus.example")
    course = await create_course(
        db,
        teacher,
        title="Advanced SQL",
        description="Window functions, CTEs and plans.",
        price_cents=2900,
        currency="USD",
    )
    await create_lesson(db, course, position=1, title="Window functions", is_preview=True)
    await create_lesson(
        db, course, position=2, title="Recursive CTEs", content="## Recursive CTEs\n\nPaid text."
    )
    await db.commit()

    await page.goto("/login")
    await page.get_by_label("Email").fill(buyer.email)
    await page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await page.get_by_text("Signed in as Bea Buyer.").wait_for()

    await page.goto(f"/courses/{course.id}")
    buy = page.get_by_role("button", name="Buy for $29.00")
    await buy.wait_for()
    await snap(page, "payments-course-buy")
    await no_horizontal_overflow(page)
    await buy.click()

    # The loopback Stripe's hosted checkout page.
    await page.get_by_role("heading", name="Fake Stripe Checkout").wait_for()
    assert page.url.startswith(f"{fake.url}/c/pay/cs_test_")
    await snap(page, "payments-fake-checkout")
    await page.get_by_role("button", name="Pay 29.00 USD").click()

    # Back on Campus before the webhook lands: processing, then (self-refresh) enrolled.
    await page.get_by_role("heading", name="Processing your payment…").wait_for()
    await snap(page, "payments-processing")
    await page.get_by_role("heading", name="Payment received — you are enrolled").wait_for(
        timeout=20_000
    )
    assert fake.deliveries == [200]
    await snap(page, "payments-success")
    await no_horizontal_overflow(page)

    await page.get_by_role("link", name="Start the first lesson").click()
    await page.get_by_role("heading", level=1, name="Window functions").wait_for()
    await page.goto(f"/courses/{course.id}")
    await page.get_by_role("link", name="Recursive CTEs").click()
    await page.get_by_text("Paid text.").wait_for()
    await snap(page, "payments-paid-lesson")

    await page.goto("/account/payments")
    await page.get_by_role("heading", name="My purchases").wait_for()
    await page.get_by_text("Advanced SQL").wait_for()
    await snap(page, "payments-purchases")
    await no_horizontal_overflow(page)
    assert page.console_errors == []
