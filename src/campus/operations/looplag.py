"""An opt-in event-loop lag monitor for benchmarks (``CAMPUS_BENCH_LOOP_LAG=1``).

A background task asks to wake up every ``interval`` seconds and records how late it
actually woke. Anything that holds the event loop (a CPU-bound call such as password
hashing run on the loop instead of a worker thread, a blocking driver call) shows up as lag.
``bench/run.py`` resets the samples before the login scenario and reads their p99 after it,
through the bench-only routes of :data:`router`, which the app mounts only when the setting
is on (off by default; never in the OpenAPI schema).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections import deque
from typing import Any

from fastapi import APIRouter, Request


class LoopLagMonitor:
    """Samples how late the running event loop wakes a task that sleeps ``interval`` s."""

    def __init__(self, *, interval: float = 0.005, max_samples: int = 200_000) -> None:
        if interval <= 0:
            raise ValueError("interval must be positive")
        self.interval = interval
        self._samples: deque[float] = deque(maxlen=max_samples)
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        """Start sampling on the running loop (idempotent)."""
        if not self.running:
            self._task = asyncio.get_running_loop().create_task(
                self._sample(), name="campus-loop-lag-monitor"
            )

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def reset(self) -> None:
        self._samples.clear()

    async def _sample(self) -> None:
        # perf_counter, not loop.time(): uvloop's clock only ticks in whole milliseconds.
        clock = time.perf_counter
        while True:
            expected = clock() + self.interval
            await asyncio.sleep(self.interval)
            self._samples.append(max(0.0, clock() - expected))

    def snapshot(self) -> dict[str, Any]:
        """Lag statistics in milliseconds since the last reset."""
        samples = sorted(self._samples)
        return {
            "samples": len(samples),
            "interval_ms": self.interval * 1000,
            "p50_ms": _percentile_ms(samples, 50),
            "p99_ms": _percentile_ms(samples, 99),
            "max_ms": round(samples[-1] * 1000, 3) if samples else None,
        }


def _percentile_ms(ordered: list[float], percent: float) -> float | None:
    """Nearest-rank percentile of sorted seconds, in milliseconds."""
    if not ordered:
        return None
    rank = max(1, math.ceil(percent / 100 * len(ordered)))
    return round(ordered[rank - 1] * 1000, 3)


router = APIRouter(prefix="/_bench", include_in_schema=False)


def _monitor(request: Request) -> LoopLagMonitor:
    monitor: LoopLagMonitor = request.app.state.loop_lag_monitor
    return monitor


@router.get("/loop-lag")
async def loop_lag(request: Request) -> dict[str, Any]:
    """The lag statistics since the last reset."""
    return _monitor(request).snapshot()


@router.post("/loop-lag/reset", status_code=204)
async def reset_loop_lag(request: Request) -> None:
    _monitor(request).reset()
