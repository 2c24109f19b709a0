"""Accounts test helpers: the mail outbox, apps with other settings (limits on, SMTP)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncConnection

from campus.config import Settings
from campus.email import EmailMessage, MemoryBackend, wait_for_outgoing
from campus.main import create_app
from tests.conftest import on_test_transaction

LINK = re.compile(r"(https?://\S+?)\?token=([A-Za-z0-9_\-]+)")


class Outbox:
    """The mail the memory backend received during this test."""

    def __init__(self) -> None:
        self._start = len(MemoryBackend.outbox)

    async def messages(self, to: str | None = None) -> list[EmailMessage]:
        await wait_for_outgoing()
        sent = MemoryBackend.outbox[self._start :]
        return [m for m in sent if to is None or m.to == to]

    async def last_token(self, to: str, path: str) -> str:
        for message in reversed(await self.messages(to)):
            for base, token in LINK.findall(message.text):
                if base.endswith(path):
                    return str(token)
        raise AssertionError(f"no {path} link mailed to {to}")


@pytest.fixture
async def outbox() -> Outbox:
    await wait_for_outgoing()
    return Outbox()


ClientFactory = Callable[..., Awaitable[httpx.AsyncClient]]


@pytest.fixture
async def make_client(
    settings: Settings, connection: AsyncConnection
) -> AsyncIterator[ClientFactory]:
    """Build a client on a fresh app with changed settings, on the test's transaction.

    ``ip`` sets the client address (the app trusts 127.0.0.1 as a proxy, so tests can also
    send ``X-Forwarded-For``).
    """
    async with AsyncExitStack() as stack:

        async def factory(ip: str = "127.0.0.1", **overrides: Any) -> httpx.AsyncClient:
            overrides.setdefault("trusted_proxies", ["127.0.0.1"])
            app = on_test_transaction(create_app(settings.model_copy(update=overrides)), connection)
            stack.push_async_callback(app.state.database.dispose)
            transport = httpx.ASGITransport(app=app, client=(ip, 12345))
            return await stack.enter_async_context(
                httpx.AsyncClient(transport=transport, base_url="http://testserver")
            )

        yield factory


async def login(client: httpx.AsyncClient, email: str, password: str, **kw: Any) -> httpx.Response:
    return await client.post(
        "/api/v1/auth/login", data={"username": email, "password": password}, **kw
    )


def bearer(tokens: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}
