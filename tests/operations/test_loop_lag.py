"""The opt-in event-loop lag monitor (CAMPUS_BENCH_LOOP_LAG) used by bench/run.py."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from campus.config import Settings
from campus.main import create_app
from campus.operations.looplag import LoopLagMonitor, _percentile_ms


async def test_a_blocked_loop_shows_up_as_lag() -> None:
    monitor = LoopLagMonitor(interval=0.005)
    monitor.start()
    try:
        await asyncio.sleep(0.05)
        time.sleep(0.15)  # noqa: ASYNC251 - on purpose: what a CPU-bound call on the loop does
        await asyncio.sleep(0.03)
        stats = monitor.snapshot()
    finally:
        await monitor.stop()
    assert stats["samples"] >= 3
    assert stats["max_ms"] >= 120
    assert stats["p99_ms"] >= 120  # few samples: the worst one is the p99


async def test_reset_forgets_and_stop_ends_the_sampler() -> None:
    monitor = LoopLagMonitor(interval=0.002)
    monitor.start()
    monitor.start()  # idempotent
    await asyncio.sleep(0.03)
    assert monitor.snapshot()["samples"] > 0
    monitor.reset()
    assert monitor.snapshot() == {
        "samples": 0,
        "interval_ms": 2.0,
        "p50_ms": None,
        "p99_ms": None,
        "max_ms": None,
    }
    await monitor.stop()
    assert not monitor.running
    await asyncio.sleep(0.02)
    assert monitor.snapshot()["samples"] == 0


def test_interval_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        LoopLagMonitor(interval=0)


def test_percentiles_are_nearest_rank_in_ms() -> None:
    seconds = [i / 1000 for i in range(1, 101)]  # 1 ms .. 100 ms
    assert _percentile_ms(seconds, 50) == 50.0
    assert _percentile_ms(seconds, 99) == 99.0
    assert _percentile_ms([0.25], 99) == 250.0
    assert _percentile_ms([], 99) is None


async def test_bench_routes_are_absent_by_default(client: httpx.AsyncClient) -> None:
    assert (await client.get("/_bench/loop-lag")).status_code == 404
    assert (await client.post("/_bench/loop-lag/reset")).status_code == 404


async def test_bench_routes_serve_the_lag_when_enabled(settings: Settings) -> None:
    app = create_app(settings.model_copy(update={"bench_loop_lag": True}))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        ) as client,
    ):
        assert app.state.loop_lag_monitor.running
        await asyncio.sleep(0.3)
        first = (await client.get("/_bench/loop-lag")).json()
        assert first["samples"] >= 5
        assert first["p99_ms"] is not None
        assert (await client.post("/_bench/loop-lag/reset")).status_code == 204
        assert (await client.get("/_bench/loop-lag")).json()["samples"] < first["samples"]
        schema = (await client.get("/openapi.json")).json()
        assert not any(path.startswith("/_bench") for path in schema["paths"])
    assert not app.state.loop_lag_monitor.running
