"""Browser tests: a real Campus server in a thread and Debian's Chromium driven by Playwright.

The server runs on a free loopback port against the test database with real commits; every
table is emptied after each test. One browser per session, a fresh context per test. Each
flow saves screenshots at desktop (1280 px) and phone (390 px) width under
``test-artifacts/``. Never ``playwright install``: Chromium comes from the Debian package.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from campus.config import Settings
from campus.main import create_app
from tests.conftest import service_unavailable, truncate_all

CHROMIUM = Path(os.environ.get("CAMPUS_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
WIDTHS = {"desktop": (1280, 900), "phone": (390, 844)}

pytestmark = pytest.mark.browser


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/browser/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.browser)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LiveServer:
    url: str
    settings: Settings


@contextmanager
def campus_in_thread(
    settings: Settings, *, name: str, **update: Any
) -> Iterator[tuple[str, Settings]]:
    """``create_app`` under uvicorn in a thread on a free port: ``(url, its settings)``."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    server_settings = settings.model_copy(update={"base_url": url, **update})
    config = uvicorn.Config(
        create_app(server_settings),
        host="127.0.0.1",
        port=port,
        log_config=None,
        access_log=False,
        lifespan="on",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=name, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail(f"{name} did not start")
        time.sleep(0.05)
    try:
        yield url, server_settings
    finally:
        server.should_exit = True
        thread.join(timeout=20)


@pytest.fixture(scope="session")
def live_server(settings: Settings) -> Iterator[LiveServer]:
    if not CHROMIUM.exists():
        service_unavailable(f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    with campus_in_thread(settings, name="campus-live-server") as (url, server_settings):
        yield LiveServer(url=url, settings=server_settings)


@pytest.fixture(scope="session")
async def browser(live_server: LiveServer) -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield browser
        finally:
            await browser.close()


@pytest.fixture
async def page(browser: Any, live_server: LiveServer, engine: AsyncEngine) -> AsyncIterator[Any]:
    context = await browser.new_context(
        base_url=live_server.url, viewport={"width": 1280, "height": 900}, java_script_enabled=True
    )
    context.set_default_timeout(15_000)
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    def on_console(msg: Any) -> None:
        # A 4xx document (a form shown again with errors) is expected; CSP violations are not.
        if msg.type == "error" and "the server responded with a status of 4" not in msg.text:
            errors.append(msg.text)

    page.on("console", on_console)
    page.console_errors = errors
    try:
        yield page
    finally:
        await context.close()
        await truncate_all(engine)


@pytest.fixture
async def db(engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    """A session whose commits are real, so the live server sees the data."""
    async with AsyncSession(engine, expire_on_commit=False) as session:
        yield session


async def snap(page: Any, name: str) -> None:
    """Screenshots of the current page at desktop and phone width."""
    ARTIFACTS.mkdir(exist_ok=True)
    original = page.viewport_size
    for label, (width, height) in WIDTHS.items():
        await page.set_viewport_size({"width": width, "height": height})
        await page.screenshot(path=str(ARTIFACTS / f"{name}-{label}.png"), full_page=True)
    if original:
        await page.set_viewport_size(original)
