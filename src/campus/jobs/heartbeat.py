"""The worker's liveness: a file its event loop touches, and the check a probe runs.

``campus worker`` touches ``CAMPUS_JOBS_HEARTBEAT_FILE`` (default
``<temp dir>/campus-worker-<uid>.heartbeat``) every
``CAMPUS_JOBS_HEARTBEAT_SECONDS`` from a task on its event loop, also while it waits for
Redis to come back (a worker waiting for Redis is alive; restarting it would not help).
``campus jobs health`` exits 0 when the file is fresher than three beats, 1 otherwise — a
worker whose loop is stuck (a blocking call, a deadlock, a frozen process) stops beating,
and the container's probe (Kubernetes ``exec`` liveness, compose ``healthcheck``) restarts
it. The file is removed when the worker stops cleanly.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from campus.config import Settings


def heartbeat_path(settings: Settings) -> Path:
    if settings.jobs_heartbeat_file:
        return Path(settings.jobs_heartbeat_file)
    return Path(tempfile.gettempdir()) / f"campus-worker-{os.getuid()}.heartbeat"


def touch(path: Path) -> None:
    try:
        path.touch()
        os.utime(path)
    except OSError:  # a read-only or full disk: the probe will say so
        pass


async def beat(settings: Settings) -> None:
    """Touch the heartbeat file until cancelled; remove it then."""
    path = heartbeat_path(settings)
    try:
        while True:
            touch(path)  # a local file: microseconds, fine on the loop
            await asyncio.sleep(settings.jobs_heartbeat_seconds)
    finally:
        with contextlib.suppress(OSError):
            path.unlink()


@dataclass(frozen=True, slots=True)
class Health:
    ok: bool
    detail: str


def check(settings: Settings, *, max_age: float | None = None) -> Health:
    """Is the worker's heartbeat fresh? (default: three beats)"""
    path = heartbeat_path(settings)
    limit = max_age if max_age is not None else 3 * settings.jobs_heartbeat_seconds
    try:
        age = time.time() - path.stat().st_mtime
    except FileNotFoundError:
        return Health(False, f"no heartbeat at {path}: the worker is not running")
    except OSError as exc:
        return Health(False, f"cannot read {path}: {exc.strerror}")
    if age > limit:
        return Health(False, f"last heartbeat {age:.0f} s ago (limit {limit:.0f} s)")
    return Health(True, f"alive: last heartbeat {age:.1f} s ago")
