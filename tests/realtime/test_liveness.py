"""Dead peers: `campus serve` pings an idle socket and drops it when no pong comes back.

The peer here is a raw TCP socket that completes the WebSocket handshake and then never
answers (as a laptop that went to sleep): the server must send a protocol ping and close
the connection after ``CAMPUS_WS_PING_TIMEOUT_SECONDS``. A real client that answers pings
stays connected over the same time."""

from __future__ import annotations

import asyncio
import base64
import os
import socket
import time
from collections.abc import AsyncIterator, Iterator
from urllib.parse import urlsplit

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from campus.config import Settings
from tests.conftest import truncate_all
from tests.realtime.liveserver import Served, campus_serve
from tests.realtime.test_socket import frame, member, open_socket, send, ticket

PING = 0x89  # FIN + opcode 0x9


@pytest.fixture(scope="module")
def server(settings: Settings) -> Iterator[Served]:
    with campus_serve(
        settings,
        {"CAMPUS_WS_PING_INTERVAL_SECONDS": "0.5", "CAMPUS_WS_PING_TIMEOUT_SECONDS": "1"},
    ) as served:
        yield served


@pytest.fixture
async def db(engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    async with AsyncSession(engine, expire_on_commit=False) as session:
        yield session
    await truncate_all(engine)


def _handshake(url: str, path: str) -> socket.socket:
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80), timeout=5)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            f"GET {path} HTTP/1.1\r\nHost: {parts.netloc}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(4096)
        assert chunk, "the server closed during the handshake"
        head += chunk
    assert head.startswith(b"HTTP/1.1 101"), head[:200]
    return sock


def _read_until_closed(sock: socket.socket, within: float) -> tuple[bytes, float | None]:
    """Everything the server sends until it closes the TCP connection (or ``within``)."""
    received = b""
    deadline = time.monotonic() + within
    sock.settimeout(0.2)
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(4096)
        except TimeoutError:
            continue
        except ConnectionResetError:
            return received, time.monotonic()
        if not chunk:
            return received, time.monotonic()
        received += chunk
    return received, None


async def test_a_peer_that_never_answers_pings_is_dropped(
    server: Served, db: AsyncSession, settings: Settings
) -> None:
    who = await member(db, settings, full_name="Sleepy")
    path = f"/api/v1/ws?ticket={await ticket(server, who)}"
    sock = await asyncio.to_thread(_handshake, server.url, path)
    opened = time.monotonic()
    try:
        received, closed_at = await asyncio.to_thread(_read_until_closed, sock, 15)
    finally:
        sock.close()
    assert closed_at is not None, "the server kept a silent peer open for 15 s"
    # Pinged first (interval 0.5 s), dropped after the 1 s timeout: well within seconds.
    assert received, "no ping came"
    assert received[0] == PING, received[:16]
    assert closed_at - opened < 10


async def test_a_peer_that_answers_pings_stays(
    server: Served, db: AsyncSession, settings: Settings
) -> None:
    who = await member(db, settings, full_name="Awake")
    async with await open_socket(server, who) as ws:  # the client answers pings itself
        await asyncio.sleep(3)  # six ping intervals, three timeouts
        await send(ws, type="ping")
        assert (await frame(ws))["type"] == "pong"
