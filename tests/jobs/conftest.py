"""Jobs test harness: real Redis (own queue name per test), real ``campus worker``
subprocesses, committed data (jobs use their own connections), loopback mail providers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from campus.config import Settings
from campus.jobs.redisqueue import key_patterns
from campus.models.jobs import JobEffect, JobFailure
from tests.conftest import REDIS_TEST_URL, service_unavailable, truncate_all

ROOT = Path(__file__).resolve().parents[2]

ENV_FIELDS = (
    "env",
    "database_url",
    "redis_url",
    "secret_key",
    "base_url",
    "email_backend",
    "email_from",
    "sendgrid_api_key",
    "sendgrid_api_base",
    "mailgun_api_key",
    "mailgun_domain",
    "mailgun_api_base",
    "jobs_queue_name",
    "jobs_concurrency",
    "jobs_max_tries",
    "jobs_retry_base_seconds",
    "jobs_retry_max_seconds",
    "jobs_timeout_seconds",
    "jobs_idle_timeout_seconds",
    "jobs_shutdown_grace_seconds",
    "jobs_enqueue_timeout_seconds",
    "jobs_heartbeat_file",
    "jobs_heartbeat_seconds",
    "jobs_schedule",
    "jobs_reminders_cron",
    "jobs_digest_cron",
    "jobs_cleanup_cron",
    "job_modules",
    "log_format",
    "log_level",
    "sqlite_busy_timeout_ms",
)


def settings_env(settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAMPUS_")}
    for name in ENV_FIELDS:
        value = getattr(settings, name)
        if value is None:
            continue
        if isinstance(value, list):
            value = json.dumps(value)
        elif isinstance(value, bool):
            value = "true" if value else "false"
        env[f"CAMPUS_{name.upper()}"] = str(value)
    env["PYTHONPATH"] = str(ROOT)
    # Subprocesses start much faster from compiled modules (a loaded 2-core machine).
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONUNBUFFERED"] = "1"  # log lines reach the test as they are written
    return env


def run_cli(
    settings: Settings, *args: str, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from campus.cli import main; main()", *args],
        env=settings_env(settings),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


class WorkerProcess:
    """A real ``campus worker`` subprocess; its output is collected line by line."""

    def __init__(self, settings: Settings, *args: str) -> None:
        self.lines: list[str] = []
        self.proc = subprocess.Popen(
            [sys.executable, "-c", "from campus.cli import main; main()", "worker", *args],
            env=settings_env(settings),
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_for_line(self, text: str, timeout: float = 30.0, count: int = 1) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if sum(text in line for line in self.lines) >= count:
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"worker never printed {text!r} x{count}:\n{self.output[-4000:]}")

    def wait_ready(self) -> WorkerProcess:
        self.wait_for_line("worker_starting", timeout=120)
        time.sleep(0.5)  # its loops start right after the line
        return self

    def stop(self, sig: int | None = None, timeout: float = 30.0) -> int:
        import signal

        if self.proc.poll() is None:
            self.proc.send_signal(sig or signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        finally:
            self._reader.join(timeout=2)


@pytest.fixture(scope="session")
def redis_url() -> str:
    try:
        client = redis.Redis.from_url(REDIS_TEST_URL, socket_connect_timeout=2)
        client.ping()
        client.close()
    except Exception as exc:
        service_unavailable(f"Redis at {REDIS_TEST_URL} is unreachable: {exc}")
    return REDIS_TEST_URL


@pytest.fixture
def queue_name(redis_url: str) -> Iterator[str]:
    name = f"campus-test-{uuid.uuid4().hex[:10]}"
    yield name
    client = redis.Redis.from_url(redis_url)
    try:
        keys = [
            k for pattern in key_patterns(name) for k in client.scan_iter(match=pattern, count=500)
        ]
        if keys:
            client.delete(*keys)
    finally:
        client.close()


@pytest.fixture
async def committed(engine: AsyncEngine) -> AsyncIterator[AsyncEngine]:
    """Jobs commit on their own connections: empty every table after the test."""
    yield engine
    await truncate_all(engine)


@pytest.fixture
def job_settings(settings: Settings, redis_url: str, queue_name: str) -> Settings:
    return settings.model_copy(
        update={
            "redis_url": redis_url,
            "jobs_queue_name": queue_name,
            "job_modules": ["tests.jobs.sample_jobs"],
            "jobs_idle_timeout_seconds": 2.0,
            "jobs_shutdown_grace_seconds": 10,
            "jobs_retry_base_seconds": 0.1,
            "jobs_retry_max_seconds": 0.5,
            "jobs_concurrency": 4,
            # A loaded machine can take seconds to connect: never fall back in these tests.
            "jobs_enqueue_timeout_seconds": 15.0,
        }
    )


@pytest.fixture
def workers() -> Iterator[list[WorkerProcess]]:
    started: list[WorkerProcess] = []
    yield started
    for worker in started:
        if worker.proc.poll() is None:
            worker.proc.kill()
            worker.proc.wait(timeout=10)


async def effect_keys(engine: AsyncEngine, prefix: str = "") -> list[str]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(JobEffect.key).where(JobEffect.key.startswith(prefix)).order_by(JobEffect.key)
        )
        return [r[0] for r in rows]


async def failed_jobs(engine: AsyncEngine) -> list[Any]:
    async with engine.connect() as conn:
        return list(await conn.execute(select(JobFailure).order_by(JobFailure.id)))


async def wait_until(predicate: Any, within: float = 30.0, interval: float = 0.1) -> Any:
    import asyncio

    deadline = time.monotonic() + within
    while True:
        value = await predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met in {within}s (last value {value!r})")
        await asyncio.sleep(interval)
