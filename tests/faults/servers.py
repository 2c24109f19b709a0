"""Throw-away servers for fault tests and ``bench/faults.py``: a PostgreSQL cluster of its
own (``initdb``/``pg_ctl`` in a temp dir on a free port), a ``redis-server`` of its own, and
``campus serve`` in a subprocess. The shared PostgreSQL and Redis are never stopped.

PostgreSQL refuses to run as root: as root, its commands run as the ``postgres`` user
(``runuser``), and the cluster's directory is handed to that user.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
CAMPUS = Path(sys.executable).parent / "campus"
# On a loaded 2-core machine importing the app alone can take many seconds.
STARTUP_SECONDS = 120


class Unavailable(Exception):
    """What a fault test needs cannot run here (the reason says what)."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _postgres_bin() -> Path:
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    if found:
        return Path(found[-1]).parent
    pg_ctl = shutil.which("pg_ctl")
    if pg_ctl is None:
        raise Unavailable("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    return Path(pg_ctl).parent


class PostgresCluster:
    """A PostgreSQL cluster in a temp dir, on a free loopback port, trust auth."""

    def __init__(self, *, fsync: bool = False) -> None:
        self.bin = _postgres_bin()
        self.port = free_port()
        self.as_user: list[str] = []
        owner: pwd.struct_passwd | None = None
        if os.geteuid() == 0:
            try:
                owner = pwd.getpwnam("postgres")
            except KeyError as exc:
                raise Unavailable("running as root and there is no 'postgres' user") from exc
            runuser = shutil.which("runuser")
            if runuser is None:
                raise Unavailable("running as root and runuser is not installed")
            self.as_user = [runuser, "-u", "postgres", "--"]
        self.root = Path(tempfile.mkdtemp(prefix="campus-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "postgres.log"
        if owner is not None:
            os.chown(self.root, owner.pw_uid, owner.pw_gid)
        self.options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root} "
            f"-c fsync={'on' if fsync else 'off'} -c max_connections=100"
        )
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-A",
            "trust",
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--no-sync",
            timeout=120,
        )

    @property
    def admin_url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    def url(self, database: str) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, tool: str, *args: str, timeout: float = 60) -> str:
        result = subprocess.run(
            [*self.as_user, str(self.bin / tool), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            cwd=self.root,
        )
        if result.returncode != 0:
            raise Unavailable(f"{tool} failed: {(result.stderr or result.stdout)[-1500:]}")
        return result.stdout

    def start(self) -> None:
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-l",
            str(self.log),
            "-o",
            self.options,
            "-w",
            "-t",
            "60",
            "start",
            timeout=90,
        )

    def stop(self, mode: str = "fast") -> None:
        """``fast``: sessions get ``57P01 admin shutdown``; ``immediate``: killed at once."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop", timeout=90)

    def psql(self, database: str, sql: str) -> str:
        return self._run(
            "psql",
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-U",
            "postgres",
            "-d",
            database,
            "-At",
            "-v",
            "ON_ERROR_STOP=1",
            "-c",
            sql,
        )

    def createdb(self, name: str) -> str:
        self.psql("postgres", f'CREATE DATABASE "{name}"')
        return self.url(name)

    def destroy(self) -> None:
        with contextlib.suppress(Exception):
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


class RedisServer:
    """``redis-server --port <free> --save ''`` (nothing on disk)."""

    def __init__(self) -> None:
        if shutil.which("redis-server") is None:
            raise Unavailable("redis-server is not installed")
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

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
        deadline = time.monotonic() + 20
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise Unavailable(f"redis-server did not start on port {self.port}")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.proc = None


def campus_env(
    database_url: str, url: str, extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAMPUS_")}
    env.update(
        {
            "CAMPUS_ENV": "test",
            "CAMPUS_DATABASE_URL": database_url,
            "CAMPUS_SECRET_KEY": "fault-test-secret-key-that-is-long-enough-0123456789",
            "CAMPUS_BASE_URL": url,
            "CAMPUS_RATE_LIMITS_ENABLED": "false",
            "CAMPUS_EMAIL_BACKEND": "console",
            "CAMPUS_LOG_LEVEL": "WARNING",
            "CAMPUS_LOG_FORMAT": "json",
            "CAMPUS_JOBS_SCHEDULE": "false",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPATH"] = str(ROOT)
    env.update(extra or {})
    return env


@dataclass
class Served:
    url: str
    process: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://", 1) + "/api/v1/ws"

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def rss_kib(self) -> int:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return 0


@contextlib.contextmanager
def campus_serve(
    database_url: str,
    extra: Mapping[str, str] | None = None,
    *,
    command: Sequence[str] = ("serve",),
    prefix: Sequence[str] = (),
) -> Iterator[Served]:
    """``campus serve`` on a free port; its stderr/stdout lines are collected."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [*prefix, str(CAMPUS), *command, "--host", "127.0.0.1", "--port", str(port)],
        env=campus_env(database_url, url, extra),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    served = Served(url=url, process=process)

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            served.lines.append(line.rstrip("\n"))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            if process.poll() is not None:
                reader.join(timeout=2)
                raise RuntimeError(f"campus serve exited: {served.output[-2000:]}")
            try:
                if httpx.get(f"{url}/health/live", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"campus serve did not start within {STARTUP_SECONDS} s")
            time.sleep(0.1)
        yield served
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        reader.join(timeout=2)
