"""A socket's outgoing frames (``campus.realtime.socket.Connection``) against an ASGI send
that waits when told to, as uvicorn's does while the peer reads too slowly (its transport
paused writing): frames are written at once while the send does not wait; behind a send
that waits they queue, keep their order, none is lost, and a close comes after them."""

from __future__ import annotations

import asyncio

import pytest
from starlette.types import Message
from starlette.websockets import WebSocket, WebSocketState

from campus.config import Settings
from campus.realtime.service import SocketIdentity
from campus.realtime.socket import CLOSE_TRY_AGAIN, Connection


class GatedSend:
    """An ASGI send that records what it writes and waits while ``writable`` is clear."""

    def __init__(self) -> None:
        self.writable = asyncio.Event()
        self.writable.set()
        self.written: list[Message] = []
        self.gone = False

    async def __call__(self, message: Message) -> None:
        await self.writable.wait()
        if self.gone:
            raise OSError("peer gone")
        self.written.append(message)

    def texts(self) -> list[str]:
        return [m["text"] for m in self.written if m["type"] == "websocket.send"]


def open_connection(settings: Settings, send: GatedSend, queue: int = 8) -> Connection:
    async def receive() -> Message:
        raise AssertionError("not read in these tests")

    ws = WebSocket({"type": "websocket", "path": "/api/v1/ws", "headers": []}, receive, send)
    ws.application_state = WebSocketState.CONNECTED
    return Connection(
        ws,
        send,
        SocketIdentity(user_id=1, session_id="s", kind="web"),
        settings.model_copy(update={"ws_send_queue": queue}),
    )


async def test_a_frame_is_written_at_once_without_a_task(settings: Settings) -> None:
    send = GatedSend()
    connection = open_connection(settings, send)
    connection.deliver('{"type":"pong"}')
    assert send.texts() == ['{"type":"pong"}']
    assert connection.flusher is None
    assert not connection.pending


async def test_frames_behind_a_waiting_send_keep_their_order_and_none_is_lost(
    settings: Settings,
) -> None:
    send = GatedSend()
    connection = open_connection(settings, send)
    send.writable.clear()
    for n in range(5):
        connection.deliver(f"frame {n}")
    assert send.texts() == []
    assert connection.flusher is not None
    flusher = connection.flusher
    send.writable.set()
    await flusher
    assert send.texts() == [f"frame {n}" for n in range(5)]
    assert connection.flusher is None
    # Writable again: the next frame is written at once.
    connection.deliver("frame 5")
    assert send.texts()[-1] == "frame 5"
    assert connection.flusher is None


async def test_a_close_comes_after_the_frames_queued_before_it(settings: Settings) -> None:
    send = GatedSend()
    connection = open_connection(settings, send)
    send.writable.clear()
    connection.deliver("last words")
    connection.close_soon(1001, "server shutting down")
    connection.deliver("after the close")  # refused: the socket is closing
    assert connection.flusher is not None
    flusher = connection.flusher
    send.writable.set()
    await flusher
    assert [m["type"] for m in send.written] == ["websocket.send", "websocket.close"]
    assert send.texts() == ["last words"]
    assert send.written[-1]["code"] == 1001


async def test_a_peer_too_slow_for_the_queue_is_closed_1013_after_its_frames(
    settings: Settings,
) -> None:
    send = GatedSend()
    connection = open_connection(settings, send, queue=8)
    send.writable.clear()
    for n in range(12):  # one waiting send, 8 queued, then the queue is full
        connection.deliver(f"frame {n}")
    assert connection.closed
    flusher = connection.flusher
    assert flusher is not None
    send.writable.set()
    await flusher
    assert send.texts() == [f"frame {n}" for n in range(9)]
    assert send.written[-1] == {
        "type": "websocket.close",
        "code": CLOSE_TRY_AGAIN,
        "reason": "too slow",
    }


async def test_a_send_to_a_gone_peer_marks_the_socket_closed(settings: Settings) -> None:
    send = GatedSend()
    connection = open_connection(settings, send)
    send.gone = True
    connection.deliver("frame")  # written at once: fails at once
    assert connection.closed
    assert connection.flusher is None

    send = GatedSend()
    connection = open_connection(settings, send)
    send.writable.clear()
    connection.deliver("frame 0")
    connection.deliver("frame 1")
    flusher = connection.flusher
    assert flusher is not None
    send.gone = True
    send.writable.set()
    await flusher  # the waiting send fails: the task ends quietly, the queue is dropped
    assert connection.closed
    assert not connection.pending
    assert connection.flusher is None


async def test_cancelling_the_flush_task_cancels_the_waiting_send(settings: Settings) -> None:
    send = GatedSend()
    connection = open_connection(settings, send)
    send.writable.clear()
    connection.deliver("frame")
    flusher = connection.flusher
    assert flusher is not None
    await asyncio.sleep(0)
    flusher.cancel()
    with pytest.raises(asyncio.CancelledError):
        await flusher
    assert connection.flusher is None
    send.writable.set()
    await asyncio.sleep(0)
    assert send.texts() == []
