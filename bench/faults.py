"""Fault scenarios at a bigger scale than the tests (tests/faults), with figures.

    uv run bench/faults.py                      # both scenarios, 16 clients, 10 s outages
    uv run bench/faults.py --scenario postgres --mode immediate
    uv run bench/faults.py --clients 32 --outage 20

1. **postgres**: a throw-away PostgreSQL cluster (``initdb``/``pg_ctl`` in a temp dir on a
   free port; as root its commands run as ``postgres``), migrated, and a real ``campus
   serve`` on it with the default pool settings. ``--clients`` clients create tasks in a
   loop; after a warm-up the cluster is stopped (``pg_ctl stop -m fast``, or ``immediate``:
   killed at once) for ``--outage`` seconds and started again. Reported: the answers by
   phase and status, the slowest answer during the outage, the time from the database's
   return to the first acknowledged write and to the last failed answer, and the
   acknowledged writes (201s) against the rows present afterwards.
2. **redis**: a throw-away ``redis-server --save ''`` and ``campus serve`` (on a
   throw-away PostgreSQL cluster as above, rate limits on) using it; the same clients;
   Redis is killed for ``--outage`` seconds and started again (empty, as after a restart
   without persistence). Reported: the answers by phase, ``/health`` during the outage,
   the rate-limit operations served from memory (``campus_ratelimit_fallback_total``)
   and the time until ``/health`` sees Redis again.

Clients pause 50 ms after a failed answer (they do not honour ``Retry-After``, to measure
the recovery to within a few tens of milliseconds). The last line of each scenario is a
summary (``faults postgres: ...``).
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

from tests.faults.load import Timeline, WriteLoad, write_tasks  # noqa: E402
from tests.faults.servers import PostgresCluster, RedisServer, campus_serve  # noqa: E402

from campus.config import Settings  # noqa: E402
from campus.migrations import runner  # noqa: E402


def _quantile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def print_phases(load: WriteLoad) -> None:
    print("| phase | answers by status | p50 ms | p99 ms | max ms |")
    print("|---|---|---:|---:|---:|")
    for phase, counts in load.by_phase().items():
        shown = ", ".join(f"{label}: {n}" for label, n in sorted(counts.items())) or "none"
        times = [a.elapsed * 1000 for a in load.answers if load.phase(a) == phase]
        print(
            f"| {phase} | {shown} | {_quantile(times, 0.5):.0f} | {_quantile(times, 0.99):.0f} "
            f"| {max(times, default=0):.0f} |"
        )


def postgres(args: argparse.Namespace) -> None:
    cluster = PostgresCluster(fsync=True)
    try:
        cluster.start()
        url = cluster.createdb("campus")
        runner.upgrade(Settings(env="test", database_url=url), "head")
        with campus_serve(url, {"CAMPUS_LOG_LEVEL": "ERROR"}) as server:

            async def outage(timeline: Timeline) -> None:
                loop = asyncio.get_running_loop()
                timeline.fault_started = loop.time()
                await asyncio.to_thread(cluster.stop, args.mode)
                stopped = loop.time() - timeline.fault_started
                await asyncio.sleep(max(0.0, args.outage - stopped))
                await asyncio.to_thread(cluster.start)
                timeline.fault_ended = loop.time()
                print(
                    f"database stopped ({args.mode}) {stopped:.2f} s after the signal, back "
                    f"after {timeline.fault_ended - timeline.fault_started:.1f} s"
                )

            load = asyncio.run(
                write_tasks(
                    server.url,
                    clients=args.clients,
                    fault=outage,
                    settle_seconds=args.settle,
                    warmup_seconds=args.warmup,
                )
            )
        present = {int(i) for i in cluster.psql("campus", "SELECT id FROM tasks").split()}
    finally:
        cluster.destroy()
    missing = load.acknowledged - present
    recovery = load.recovery_seconds()
    settled = load.all_ok_after()
    print(f"\n### PostgreSQL outage: {args.clients} clients, {args.outage:.0f} s, {args.mode}\n")
    print_phases(load)
    print(f"\nslowest answer during the outage: {load.max_elapsed('during') * 1000:.0f} ms")
    print(
        f"database back -> first acknowledged write: {recovery * 1000:.0f} ms"
        if recovery is not None
        else "never recovered"
    )
    print(f"database back -> last failed answer: {(settled or 0) * 1000:.0f} ms")
    print(
        f"acknowledged writes: {len(load.acknowledged)}, present rows: {len(present)}, "
        f"acknowledged but missing: {len(missing)}"
    )
    during = load.by_phase()["during"]
    print(
        f"faults postgres: mode={args.mode} clients={args.clients} outage_s={args.outage:.0f} "
        f"during={dict(during)} http500={sum(n for k, n in during.items() if k.startswith('500'))} "
        f"recovery_ms={(recovery or -1) * 1000:.0f} acknowledged={len(load.acknowledged)} "
        f"present={len(present)} missing={len(missing)}"
    )


def _metric(text: str, name: str) -> float:
    match = re.search(rf"^{name} ([0-9.e+]+)$", text, re.M)
    return float(match.group(1)) if match else float("nan")


def redis(args: argparse.Namespace) -> None:
    server_redis = RedisServer()
    server_redis.start()
    cluster = PostgresCluster(fsync=True)
    health: dict[str, object] = {}
    try:
        cluster.start()
        url = cluster.createdb("campus")
        runner.upgrade(Settings(env="test", database_url=url), "head")
        with campus_serve(
            url,
            {
                "CAMPUS_LOG_LEVEL": "ERROR",
                "CAMPUS_REDIS_URL": server_redis.url,
                "CAMPUS_RATE_LIMITS_ENABLED": "true",
                "CAMPUS_RATE_LIMIT_API": "1000000/minute",
            },
        ) as server:

            async def outage(timeline: Timeline) -> None:
                loop = asyncio.get_running_loop()
                timeline.fault_started = loop.time()
                server_redis.stop()
                await asyncio.sleep(min(1.0, args.outage / 2))
                async with httpx.AsyncClient(base_url=server.url, timeout=10) as c:
                    answer = await c.get("/health")
                    health["during"] = (answer.status_code, answer.json())
                await asyncio.sleep(max(0.0, args.outage - (loop.time() - timeline.fault_started)))
                server_redis.start()
                timeline.fault_ended = loop.time()

                async def until_ok() -> None:
                    async with httpx.AsyncClient(base_url=server.url, timeout=10) as c:
                        while (await c.get("/health")).json()["redis"] != "ok":  # noqa: ASYNC110
                            await asyncio.sleep(0.05)
                    health["back_ms"] = (loop.time() - timeline.fault_ended) * 1000

                await until_ok()

            load = asyncio.run(
                write_tasks(
                    server.url,
                    clients=args.clients,
                    fault=outage,
                    settle_seconds=args.settle,
                    warmup_seconds=args.warmup,
                )
            )
            metrics = httpx.get(f"{server.url}/metrics", timeout=10).text
    finally:
        server_redis.stop()
        cluster.destroy()
    fallbacks = _metric(metrics, "campus_ratelimit_fallback_total")
    print(f"\n### Redis outage: {args.clients} clients, {args.outage:.0f} s\n")
    print_phases(load)
    print(f"\n/health during the outage: {health.get('during')}")
    print(f"redis back -> /health redis ok: {health.get('back_ms', -1):.0f} ms")
    print(f"rate-limit operations served from memory: {fallbacks:.0f}")
    print(f"slowest answer during the outage: {load.max_elapsed('during') * 1000:.0f} ms")
    during = load.by_phase()["during"]
    print(
        f"faults redis: clients={args.clients} outage_s={args.outage:.0f} during={dict(during)} "
        f"fallback_ops={fallbacks:.0f} health_back_ms={health.get('back_ms', -1):.0f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenario", choices=["postgres", "redis", "all"], default="all")
    parser.add_argument("--mode", choices=["fast", "immediate"], default="fast")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--outage", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--settle", type=float, default=5.0)
    args = parser.parse_args()
    started = time.monotonic()
    if args.scenario in ("postgres", "all"):
        postgres(args)
    if args.scenario in ("redis", "all"):
        redis(args)
    print(f"\n(total {time.monotonic() - started:.0f} s)")


if __name__ == "__main__":
    main()
