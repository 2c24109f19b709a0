"""``campus serve`` in a subprocess on a free loopback port, against the test database.

The server's requests commit for real; tests that use it create their own rows (committed)
and the module's fixture empties every table afterwards.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from campus.config import Settings

CAMPUS = Path(sys.executable).parent / "campus"
# Generous: on a loaded 2-core machine importing the app alone can take 20 s.
STARTUP_SECONDS = 120


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Served:
    url: str
    ws_url: str
    process: subprocess.Popen[bytes]


def server_env(
    settings: Settings, url: str, extra: Mapping[str, str] | None = None, *, base_url: bool = True
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAMPUS_")}
    env.update(
        {
            "CAMPUS_ENV": "test",
            "CAMPUS_DATABASE_URL": settings.database_url,
            "CAMPUS_SECRET_KEY": settings.secret_key,
            "CAMPUS_BASE_URL": url,
            "CAMPUS_CORS_ORIGINS": "https://app.example.com",
            "CAMPUS_RATE_LIMITS_ENABLED": "false",
            "CAMPUS_EMAIL_BACKEND": "console",
            "CAMPUS_LOG_LEVEL": "WARNING",
            "CAMPUS_WS_SESSION_CHECK_SECONDS": "0.5",
        }
    )
    env.update(extra or {})
    if not base_url:  # as a developer runs it: the server finds its own address
        del env["CAMPUS_BASE_URL"]
    return env


@contextmanager
def campus_serve(
    settings: Settings, extra: Mapping[str, str] | None = None, *, base_url: bool = True
) -> Iterator[Served]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tempfile.TemporaryFile()  # noqa: SIM115 - closed in the finally below
    process = subprocess.Popen(
        [str(CAMPUS), "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=server_env(settings, url, extra, base_url=base_url),
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            if process.poll() is not None:
                log.seek(0)
                err = log.read().decode(errors="replace")
                raise RuntimeError(f"campus serve exited: {err[-2000:]}")
            try:
                if httpx.get(f"{url}/health/live", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"campus serve did not start within {STARTUP_SECONDS} s")
            time.sleep(0.1)
        yield Served(url=url, ws_url=f"ws://127.0.0.1:{port}/api/v1/ws", process=process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
