"""The worker survives Redis going away and connects again when it is back (a throw-away
redis-server on its own port: the shared one is never stopped)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator

import pytest
import redis
from sqlalchemy.ext.asyncio import AsyncEngine

from campus.config import Settings
from campus.db import Database
from campus.jobs import JobQueue, enqueue, load_jobs, use_queue
from tests.conftest import service_unavailable
from tests.jobs.conftest import WorkerProcess, effect_keys, wait_until


class RedisServer:
    def __init__(self, port: int) -> None:
        self.port = port
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        client.close()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


@pytest.fixture
def throwaway_redis() -> Iterator[RedisServer]:
    if shutil.which("redis-server") is None:
        service_unavailable("redis-server is not installed")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = RedisServer(port)
    server.start()
    yield server
    server.stop()


async def test_worker_reconnects_when_redis_is_back(
    job_settings: Settings,
    throwaway_redis: RedisServer,
    committed: AsyncEngine,
    workers: list[WorkerProcess],
) -> None:
    settings = job_settings.model_copy(
        update={"redis_url": f"redis://127.0.0.1:{throwaway_redis.port}/0"}
    )
    worker = WorkerProcess(settings).wait_ready()
    workers.append(worker)
    throwaway_redis.stop()
    worker.wait_for_line("worker_redis_unavailable", timeout=60)
    assert worker.proc.poll() is None
    throwaway_redis.start()
    worker.wait_for_line("worker_starting", count=2, timeout=120)

    load_jobs(settings.job_modules)
    database = Database(settings)
    queue = JobQueue(settings, database)
    use_queue(queue)
    try:
        async with database.session() as session:
            enqueue(session, "sample.effect", key="after-reconnect")
        await queue.drain()
        await wait_until(lambda: effect_keys(committed, "after-reconnect"), within=60)
    finally:
        await queue.close()
        use_queue(None)
        await database.dispose()
    assert worker.stop() == 0
