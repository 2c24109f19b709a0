"""The connection pool's queue serves waiting requests first come, first served."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy.util import queue as sqla_queue
from sqlalchemy.util.concurrency import greenlet_spawn

from campus.config import Settings
from campus.db import FairAsyncQueue, FairAsyncQueuePool, create_engine


async def _get(queue: FairAsyncQueue, wait_seconds: float | None = 5) -> Any:
    return await greenlet_spawn(queue.get, True, wait_seconds)


async def test_waiters_are_served_in_arrival_order_and_nobody_barges() -> None:
    queue = FairAsyncQueue(2)
    first = asyncio.create_task(_get(queue))
    await asyncio.sleep(0)
    second = asyncio.create_task(_get(queue))
    await asyncio.sleep(0)
    queue.put_nowait("a")
    # A request arriving right after a return, before the waiter has run: it must queue.
    late = asyncio.create_task(_get(queue))
    await asyncio.sleep(0)
    queue.put_nowait("b")
    queue.put_nowait("c")
    assert await first == "a"
    assert await second == "b"
    assert await late == "c"
    assert queue.empty()


async def test_idle_items_are_taken_without_waiting_and_a_full_queue_refuses() -> None:
    queue = FairAsyncQueue(1)
    queue.put_nowait("a")
    assert queue.full()
    assert queue.qsize() == 1
    with pytest.raises(sqla_queue.Full):
        queue.put_nowait("b")
    assert await _get(queue) == "a"
    with pytest.raises(sqla_queue.Empty):
        queue.get(block=False)


async def test_a_timed_out_waiter_leaves_the_line_without_taking_anything() -> None:
    queue = FairAsyncQueue(1)
    with pytest.raises(sqla_queue.Empty):
        await _get(queue, wait_seconds=0.01)
    waiting = asyncio.create_task(_get(queue))
    await asyncio.sleep(0)
    queue.put_nowait("a")
    assert await waiting == "a"


async def test_a_cancelled_waiter_passes_its_connection_on() -> None:
    queue = FairAsyncQueue(1)
    cancelled = asyncio.create_task(_get(queue))
    await asyncio.sleep(0)
    other = asyncio.create_task(_get(queue))
    await asyncio.sleep(0)
    queue.put_nowait("a")  # handed to the first waiter, which is cancelled before it runs
    cancelled.cancel()
    assert await other == "a"
    with pytest.raises(asyncio.CancelledError):
        await cancelled


@pytest.mark.parametrize(
    "url", ["postgresql+asyncpg://u@127.0.0.1:1/x", "sqlite+aiosqlite:///campus-pool-test.db"]
)
def test_pooled_databases_use_the_fair_pool(url: str) -> None:
    engine = create_engine(Settings(database_url=url))
    assert isinstance(engine.sync_engine.pool, FairAsyncQueuePool)
