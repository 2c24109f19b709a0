"""The worker's liveness probe: `campus jobs health` against a real `campus worker`.

Fresh heartbeat: exit 0. A frozen worker (SIGSTOP: its loop cannot run, as when it is
stuck) stops beating and the probe fails; a worker that stopped cleanly leaves no
heartbeat behind, so the probe fails too; a bad option is a usage error."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from campus.config import Settings
from tests.jobs.conftest import WorkerProcess, run_cli


def _probe(settings: Settings, *args: str) -> tuple[int, str]:
    done = run_cli(settings, "jobs", "health", *args)
    return done.returncode, (done.stdout + done.stderr).strip()


async def _wait_for(predicate: Callable[[], bool], within: float = 60) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if predicate():
            return
        await asyncio.sleep(0.2)
    raise AssertionError("timed out")


async def test_the_probe_follows_the_worker(
    job_settings: Settings,
    committed: AsyncEngine,
    workers: list[WorkerProcess],
    tmp_path: Path,
) -> None:
    beat = tmp_path / "worker.heartbeat"
    settings = job_settings.model_copy(
        update={"jobs_heartbeat_file": str(beat), "jobs_heartbeat_seconds": 0.5}
    )
    code, said = _probe(settings)
    assert code == 1
    assert "not running" in said

    worker = WorkerProcess(settings).wait_ready()
    workers.append(worker)
    await _wait_for(beat.exists)
    code, said = _probe(settings)
    assert code == 0, said
    assert "alive" in said

    worker.proc.send_signal(signal.SIGSTOP)  # frozen: no more beats
    try:
        await asyncio.sleep(2.5)  # more than three beats
        code, said = _probe(settings)
        assert code == 1
        assert "last heartbeat" in said
        # A looser limit accepts the same heartbeat.
        assert _probe(settings, "--max-age", "600")[0] == 0
    finally:
        worker.proc.send_signal(signal.SIGCONT)
    await _wait_for(lambda: _probe(settings)[0] == 0)

    assert worker.stop(signal.SIGTERM) == 0
    assert not beat.exists()
    assert _probe(settings)[0] == 1


def test_a_bad_max_age_is_a_usage_error(settings: Settings) -> None:
    assert _probe(settings, "--max-age", "0")[0] == 2
    assert _probe(settings, "--max-age", "soon")[0] == 2
