"""The `campus` command: a real `serve` process, exit codes, schema checks."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from campus.config import Settings
from campus.migrations import runner
from tests.conftest import PG_ADMIN_URL

CAMPUS = [sys.executable, "-c", "from campus.cli import main; main()"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAMPUS_")}
    env.update(extra)
    return env


def _run(args: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CAMPUS, *args], capture_output=True, text=True, env=_env(**env), timeout=120, check=False
    )


def test_unknown_command_exits_2() -> None:
    result = _run(["no-such-command"])
    assert result.returncode == 2
    assert "Usage" in result.stderr


def test_bad_option_exits_2() -> None:
    assert _run(["serve", "--port", "not-a-port"]).returncode == 2


def test_production_refuses_default_secret(tmp_path: Path) -> None:
    result = _run(
        ["serve"],
        CAMPUS_ENV="production",
        CAMPUS_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/x.db",
    )
    assert result.returncode != 0
    message = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(message) == 1
    assert "CAMPUS_SECRET_KEY" in message[0]


@pytest.mark.postgres_only
def test_serve_refuses_a_database_behind_the_code() -> None:
    import asyncio

    from tests.conftest import _create_pg_database, _drop_pg_database

    url = asyncio.run(_create_pg_database(PG_ADMIN_URL))
    try:
        result = _run(["serve", "--port", str(_free_port())], CAMPUS_DATABASE_URL=url)
        assert result.returncode == 1
        assert "campus migrate upgrade head" in result.stderr
    finally:
        asyncio.run(_drop_pg_database(PG_ADMIN_URL, url))


def test_migrate_commands(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/m.db"
    assert _run(["migrate", "upgrade", "head"], CAMPUS_DATABASE_URL=url).returncode == 0
    current = _run(["migrate", "current"], CAMPUS_DATABASE_URL=url)
    assert current.returncode == 0
    assert "(head)" in current.stdout + current.stderr
    assert _run(["migrate", "downgrade", "base"], CAMPUS_DATABASE_URL=url).returncode == 0
    history = _run(["migrate", "history"], CAMPUS_DATABASE_URL=url)
    assert history.returncode == 0
    assert "->" in history.stdout


def test_serve_real_process_health_and_sigterm(database_url: str, tmp_path: Path) -> None:
    port = _free_port()
    process = subprocess.Popen(
        [*CAMPUS, "serve", "--port", str(port)],
        env=_env(CAMPUS_DATABASE_URL=database_url, CAMPUS_ENV="test"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        # Generous: a loaded CI machine can take a while to import and migrate.
        deadline = time.monotonic() + 90
        response = None
        while time.monotonic() < deadline:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/health", timeout=2)
                break
            except httpx.TransportError:
                if process.poll() is not None:
                    break
                time.sleep(0.2)
        if response is None:
            process.kill()  # never read the pipe of a live process: it would block
            pytest.fail(f"campus serve did not answer: {process.communicate()[0]}")
        assert response.status_code == 200
        assert response.json()["database"] == "ok"
        assert response.headers["x-request-id"]
        process.send_signal(signal.SIGTERM)
        # uvicorn shuts down gracefully, then re-raises SIGTERM so the exit status tells
        # the supervisor why it stopped.
        assert process.wait(timeout=30) in (0, -signal.SIGTERM)
        output = process.stdout.read() if process.stdout else ""
        assert "Application shutdown complete" in output
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_serve_migrates_embedded_sqlite_by_itself(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/fresh.db"
    port = _free_port()
    process = subprocess.Popen(
        [*CAMPUS, "serve", "--port", str(port)],
        env=_env(CAMPUS_DATABASE_URL=url),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 90  # migrates first; a loaded machine is slow
        ok = False
        while time.monotonic() < deadline and not ok:
            try:
                ok = httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200
            except httpx.TransportError:
                time.sleep(0.2)
        assert ok
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    import asyncio

    assert asyncio.run(runner.is_up_to_date(Settings(env="test", database_url=url)))
