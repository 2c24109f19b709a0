"""/docs (Swagger UI) and /redoc render the API's operations with no internet access:
every request to another origin is aborted, and the pages still show the operations, with
no CSP violation or script error (the page fixture collects console errors)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.browser.conftest import snap


@pytest.fixture
async def offline(page: Any, live_server: Any) -> list[str]:
    ours = urlsplit(live_server.url).netloc
    blocked: list[str] = []

    async def only_ours(route: Any) -> None:
        if urlsplit(route.request.url).netloc == ours:
            await route.continue_()
        else:
            blocked.append(route.request.url)
            await route.abort()

    await page.route("**/*", only_ours)
    return blocked


async def test_swagger_ui_renders_offline(page: Any, offline: list[str]) -> None:
    await page.goto("/docs")
    operation = page.locator(".opblock-summary-path", has_text="/api/v1/courses").first
    await operation.wait_for()
    assert await page.locator(".opblock").count() > 20
    assert offline == []  # it asked for nothing elsewhere
    assert page.console_errors == []
    await snap(page, "api-docs-swagger")


# ReDoc's "API docs by Redocly" footer shows a logo from its CDN: the CSP blocks it (and
# here the network too); it is decoration, the documentation itself is all local.
REDOC_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"


async def test_redoc_renders_offline(page: Any, offline: list[str]) -> None:
    await page.goto("/redoc")
    await page.get_by_role("heading", name="Campus").first.wait_for()
    await page.get_by_text("/health/live").first.wait_for()
    assert await page.get_by_role("menuitem").count() > 5  # the tags in the sidebar
    assert set(offline) <= {REDOC_LOGO}
    assert [e for e in page.console_errors if REDOC_LOGO not in e] == []
    await snap(page, "api-docs-redoc")


async def test_the_docs_assets_come_from_our_origin(page: Any) -> None:
    response = await page.request.get("/docs/assets/swagger-ui-bundle.js")
    assert response.status == 200
    assert "javascript" in response.headers["content-type"]
    html = await (await page.request.get("/docs")).text()
    assert "cdn.jsdelivr.net" not in html
    assert "/docs/assets/swagger-ui-bundle.js" in html
