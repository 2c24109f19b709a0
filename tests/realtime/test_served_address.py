"""``campus serve --port N`` without ``CAMPUS_BASE_URL``: the served address is the app's
own. Found using the demo: ``campus demo --port 8400`` kept the default base URL's port
8000, so the socket's Origin check refused the app's own pages (403) and chat was never
live."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from campus.accounts.service import sessions as accounts_sessions
from campus.config import Settings
from tests.conftest import truncate_all
from tests.factories import create_user
from tests.realtime.liveserver import Served, campus_serve


@pytest.fixture(scope="module")
def server(settings: Settings) -> Iterator[Served]:
    with campus_serve(settings, base_url=False) as served:
        yield served


@pytest.fixture
async def headers(engine: AsyncEngine, settings: Settings) -> AsyncIterator[dict[str, str]]:
    async with AsyncSession(engine, expire_on_commit=False) as db:
        user = await create_user(db, settings)
        tokens = await accounts_sessions.start_session(db, settings, user)
        await db.commit()
    yield {"Authorization": f"Bearer {tokens.access_token}"}
    await truncate_all(engine)


async def _socket_url(server: Served, headers: dict[str, str]) -> str:
    async with httpx.AsyncClient(base_url=server.url) as client:
        made = await client.post("/api/v1/ws/ticket", headers=headers)
    assert made.status_code == 201, made.text
    return f"{server.ws_url}?ticket={made.json()['ticket']}"


async def test_the_served_address_is_the_apps_own_origin(
    server: Served, headers: dict[str, str]
) -> None:
    async with connect(await _socket_url(server, headers), origin=server.url) as ws:
        assert ws.response is not None
        assert ws.response.status_code == 101
    assert not server.url.endswith(":8000")
    with pytest.raises(InvalidStatus) as refused:  # the default's address is not ours now
        async with connect(await _socket_url(server, headers), origin="http://127.0.0.1:8000"):
            pass
    assert refused.value.response.status_code == 403
