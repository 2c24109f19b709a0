"""SIGTERM under load on a real ``campus serve``: requests in flight finish (their writes
committed), the listener closes at once so new connections are refused, open sockets get
a close frame 1001, and the process exits cleanly. (The worker's side, running jobs
finishing on SIGTERM, is in tests/jobs/test_worker.py.)"""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import time
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from websockets.asyncio.client import connect

from campus.config import Settings
from campus.models.tasks import Task
from tests.conftest import truncate_all
from tests.faults.load import sign_up
from tests.faults.servers import campus_serve

SLOW_SECONDS = 3.0


@pytest.fixture
async def committed(engine: AsyncEngine) -> AsyncIterator[AsyncEngine]:
    yield engine
    await truncate_all(engine)


async def slow_body(title: str) -> AsyncIterator[bytes]:
    """A task's JSON sent over ``SLOW_SECONDS`` (a slow client: the request is in flight)."""
    body = json.dumps({"title": title}).encode()
    steps = 6
    for index in range(steps):
        yield body[index * len(body) // steps : (index + 1) * len(body) // steps]
        await asyncio.sleep(SLOW_SECONDS / steps)


def refuses_connections(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname, parts.port), timeout=1):
            return False
    except OSError:
        return True


async def test_sigterm_finishes_in_flight_refuses_new_and_closes_sockets_1001(
    settings: Settings, committed: AsyncEngine
) -> None:
    with campus_serve(settings.database_url) as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            headers = await sign_up(client)
            made = await client.post("/api/v1/ws/ticket", headers=headers)
            assert made.status_code == 201, made.text
            ws = await connect(f"{server.ws_url}?ticket={made.json()['ticket']}")
            await ws.send(json.dumps({"type": "ping"}))
            assert json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] == "pong"

            in_flight = [
                asyncio.create_task(
                    client.post(
                        "/api/v1/tasks",
                        content=slow_body(f"slow {n}"),
                        headers={**headers, "Content-Type": "application/json"},
                    )
                )
                for n in range(3)
            ]
            await asyncio.sleep(0.8)  # every slow request has started
            sent_at = time.monotonic()
            server.process.send_signal(signal.SIGTERM)

            # The listener closes at once: a new connection is refused while the slow
            # requests are still being received.
            refused_at = None
            while time.monotonic() - sent_at < SLOW_SECONDS:
                if await asyncio.to_thread(refuses_connections, server.url):
                    refused_at = time.monotonic()
                    break
                await asyncio.sleep(0.05)
            assert refused_at is not None, "still accepting connections after SIGTERM"
            assert not all(task.done() for task in in_flight)

            await asyncio.wait_for(ws.wait_closed(), 10)
            assert ws.close_code == 1001

            answers = await asyncio.gather(*in_flight)
        assert [a.status_code for a in answers] == [201, 201, 201], [a.text for a in answers]
        exit_code = await asyncio.to_thread(server.process.wait, 30)
        # uvicorn re-raises SIGTERM after its graceful shutdown.
        assert exit_code in (0, -signal.SIGTERM), server.output[-3000:]

    async with committed.connect() as conn:
        titles = set((await conn.execute(select(Task.title))).scalars())
    assert {"slow 0", "slow 1", "slow 2"} <= titles
    assert "Traceback" not in server.output, server.output[-3000:]
