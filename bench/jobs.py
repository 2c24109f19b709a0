"""Background-job benchmark: throughput of one and two `campus worker`s, idle latency.

    uv run bench/jobs.py                       # SQLite file, Redis db 14 on 127.0.0.1
    uv run bench/jobs.py --jobs 10000 --database-url postgresql+asyncpg://postgres@127.0.0.1/campus_bench_jobs

For each worker count (1, then 2) it starts the workers (``--concurrency`` each; worker
``i`` pinned to CPU ``i`` and, with one worker, this load generator on the other), waits
until they are ready, enqueues ``--jobs`` ``bench.notify`` jobs (SAQ's enqueue, 20 in
flight), and measures from the first enqueue until every job's effect row is written: jobs/s.
Enqueue alone is timed too (20 in flight, and the app's facade, 50 in flight). Then,
with one idle worker, it sends ``--pings`` ``bench.ping`` jobs one after another and
reports the enqueue-to-start latency p50/p99. Everything is on 127.0.0.1 (its own queue
name, keys removed at the end); loads are bounded in count and time.

It prints a Markdown table and one line:

    bench jobs: job=NAME jobs=N w1_jobs_per_s=N w2_jobs_per_s=N w1_cpu_ms_per_job=N
        w2_cpu_ms_per_job=N enqueue_per_s=N idle_p50_ms=N idle_p99_ms=N

(one line; the CPU figures are the workers' user + system time per job, from /proc, which
the machine's load changes much less than the wall-clock rates).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
from sqlalchemy import func, select, text

ROOT = Path(__file__).resolve().parents[1]
LOG_DIR = Path(tempfile.mkdtemp(prefix="campus-bench-jobs-logs-"))
sys.path.insert(0, str(ROOT))

from campus.config import Settings  # noqa: E402
from campus.db import Database  # noqa: E402
from campus.jobs import JobQueue, load_jobs  # noqa: E402
from campus.jobs.redisqueue import key_patterns  # noqa: E402
from campus.migrations import runner  # noqa: E402
from campus.models.jobs import JobEffect  # noqa: E402


def worker_env(settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAMPUS_")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.update(
        {
            "CAMPUS_ENV": "development",
            "CAMPUS_DATABASE_URL": settings.database_url,
            "CAMPUS_REDIS_URL": settings.redis_url or "",
            "CAMPUS_JOBS_QUEUE_NAME": settings.jobs_queue_name,
            "CAMPUS_JOB_MODULES": json.dumps(["bench.bench_jobs"]),
            "CAMPUS_JOBS_SCHEDULE": "false",
            "CAMPUS_LOG_LEVEL": "WARNING",
            "CAMPUS_DB_POOL_SIZE": str(settings.db_pool_size),
            "PYTHONPATH": str(ROOT),
        }
    )
    return env


CPUS = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []


def pin(pid: int, cpu: int | None) -> None:
    """Run ``pid`` on one CPU (``None`` or a one-CPU machine: where the kernel likes)."""
    if cpu is not None and len(CPUS) >= 2:
        os.sched_setaffinity(pid, {cpu})


def start_workers(settings: Settings, count: int, concurrency: int) -> list[subprocess.Popen[str]]:
    """Worker ``i`` runs on CPU ``i``; with one worker this process (the enqueuer, the
    progress reads) moves to the other CPU, so the two never share one."""
    procs = []
    for index in range(count):
        # A file, not a pipe nobody reads: a full pipe would stall a logging worker.
        log = open(LOG_DIR / f"worker-{index}.log", "a")  # noqa: SIM115
        procs.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    "from campus.cli import main; main()",
                    "worker",
                    "--concurrency",
                    str(concurrency),
                ],
                env=worker_env(settings),
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                text=True,
            )
        )
        pin(procs[-1].pid, CPUS[index % len(CPUS)] if CPUS else None)
    if CPUS:
        os.sched_setaffinity(0, {CPUS[-1]} if count == 1 and len(CPUS) >= 2 else set(CPUS))
    return procs


async def wait_ready(redis: aioredis.Redis, queue: str, count: int, limit: float = 180) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        healthy = [k async for k in redis.scan_iter(match=f"saq:{queue}:worker_info:*")]
        if len(healthy) >= count:
            await asyncio.sleep(0.5)
            return
        await asyncio.sleep(0.2)
    raise SystemExit("the workers did not start in time")


def cpu_seconds(procs: list[subprocess.Popen[str]]) -> float:
    """User + system CPU time of the worker processes so far (Linux /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for p in procs:
        with open(f"/proc/{p.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def stop(procs: list[subprocess.Popen[str]]) -> None:
    import signal

    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout=60)
        except subprocess.TimeoutExpired:
            p.kill()


async def effects(database: Database) -> int:
    # a plain read: no write transaction competing with the workers for SQLite's lock
    async with database.engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(JobEffect))).scalar() or 0)


async def progress(database: Database, client: Any, job: str, jobs: int) -> int:
    if job == "bench.notify":
        return await effects(database)
    return jobs - await client.count("incomplete")  # noop: a job leaves the queue when done


async def bench_user(database: Database) -> int:
    """The user every ``bench.notify`` job notifies (the notification needs a real row)."""
    from campus.models.accounts import User, UserRole

    async with database.session() as session:
        email = "bench-jobs@campus.example"
        found = await session.scalar(select(User.id).where(User.email == email))
        if found is not None:
            return int(found)
        user = User(email=email, full_name="Bench Jobs", role=UserRole.STUDENT)
        session.add(user)
        await session.flush()
        return user.id


async def clear(database: Database) -> None:
    async with database.engine.begin() as conn:
        await conn.execute(text("DELETE FROM job_effects"))


async def throughput(
    settings: Settings,
    database: Database,
    redis: aioredis.Redis,
    *,
    workers: int,
    jobs: int,
    concurrency: int,
    limit: float,
    job: str = "bench.notify",
    user_id: int,
) -> tuple[float, float, float]:
    """Jobs/s (wall clock), enqueue jobs/s and the workers' CPU milliseconds per job."""
    await clear(database)
    procs = start_workers(settings, workers, concurrency)
    try:
        await wait_ready(redis, settings.jobs_queue_name, workers)
        queue = JobQueue(settings, database)
        client = await queue._connect()
        batch = [(job, {"user_id": user_id, "n": n}) for n in range(jobs)]
        cpu_before = cpu_seconds(procs)
        started = time.perf_counter()
        await client.push_many(settings, batch)
        enqueued = time.perf_counter() - started
        deadline = started + limit
        while (done := await progress(database, client, job, jobs)) < jobs:
            if time.perf_counter() > deadline:
                raise SystemExit(f"only {done} of {jobs} jobs done in {limit}s")
            await asyncio.sleep(0.05)
        elapsed = time.perf_counter() - started
        cpu = cpu_seconds(procs) - cpu_before
        await queue.close()
        print(
            f"{workers} worker(s): {jobs / elapsed:,.0f} jobs/s wall; worker CPU "
            f"{cpu * 1000 / jobs:.2f} ms per job = {jobs / cpu:,.0f} jobs per CPU-second",
            flush=True,
        )
        return jobs / elapsed, jobs / enqueued, cpu * 1000 / jobs
    finally:
        stop(procs)


async def facade_enqueue_rate(settings: Settings, database: Database, count: int) -> float:
    """The app's path: JobQueue.submit, one enqueue script per job, 50 in flight."""
    queue = JobQueue(settings, database)
    await queue._connect()
    started = time.perf_counter()
    for offset in range(0, count, 50):
        await asyncio.gather(
            *(
                queue.submit("bench.ping", {"sent_ns": 0, "run": "facade"})
                for _ in range(offset, min(offset + 50, count))
            )
        )
    elapsed = time.perf_counter() - started
    await queue.close()
    return count / elapsed


async def idle_latency(
    settings: Settings, database: Database, redis: aioredis.Redis, *, pings: int, facade_jobs: int
) -> tuple[list[float], float]:
    run = uuid.uuid4().hex[:8]
    procs = start_workers(settings, 1, 16)
    try:
        await wait_ready(redis, settings.jobs_queue_name, 1)
        facade = await facade_enqueue_rate(settings, database, facade_jobs)
        print(f"enqueue through the facade: {facade:,.0f} jobs/s", flush=True)
        queue = JobQueue(settings, database)
        client = await queue._connect()
        deadline = time.monotonic() + 120
        while await client.count("incomplete") > 0:  # let the worker drain: then it is idle
            if time.monotonic() > deadline:
                raise SystemExit("the worker did not drain the facade's jobs")
            await asyncio.sleep(0.1)
        await redis.delete("bench:latency:facade")
        await asyncio.sleep(1)
        key = f"bench:latency:{run}"
        for i in range(pings):
            await queue.submit("bench.ping", {"sent_ns": time.time_ns(), "run": run})
            deadline = time.monotonic() + 30
            while await redis.llen(key) < i + 1:
                if time.monotonic() > deadline:
                    raise SystemExit("a ping never started")
                await asyncio.sleep(0.001)
            await asyncio.sleep(0.02)  # idle between pings
        await queue.close()
        values = [int(v) / 1e6 for v in await redis.lrange(key, 0, -1)]
        await redis.delete(key)
        return values, facade
    finally:
        stop(procs)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--pings", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/14")
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--limit-seconds", type=float, default=600)
    parser.add_argument(
        "--job",
        choices=["bench.notify", "bench.noop"],
        default="bench.notify",
        help="notify: one effect row and the notification hook each; noop: the queue alone",
    )
    args = parser.parse_args()

    tmp = tempfile.mkdtemp(prefix="campus-bench-jobs-")
    url = args.database_url or f"sqlite+aiosqlite:///{tmp}/jobs.db"
    settings = Settings(
        env="development",
        database_url=url,
        redis_url=args.redis_url,
        jobs_queue_name=f"bench-{uuid.uuid4().hex[:8]}",
        job_modules=["bench.bench_jobs"],
        jobs_schedule=False,
        log_level="WARNING",
        db_pool_size=max(10, args.concurrency),
    )
    await asyncio.to_thread(runner.upgrade, settings, "head")
    load_jobs(settings.job_modules)
    database = Database(settings)
    redis = aioredis.Redis.from_url(args.redis_url)
    user_id = await bench_user(database)
    print(f"worker logs: {LOG_DIR}", flush=True)
    try:
        w1, enqueue_rate, cpu1 = await throughput(
            settings,
            database,
            redis,
            workers=1,
            jobs=args.jobs,
            concurrency=args.concurrency,
            limit=args.limit_seconds,
            job=args.job,
            user_id=user_id,
        )
        print(f"one worker: {w1:,.0f} jobs/s", flush=True)
        w2, _, cpu2 = await throughput(
            settings,
            database,
            redis,
            workers=2,
            jobs=args.jobs,
            concurrency=args.concurrency,
            limit=args.limit_seconds,
            job=args.job,
            user_id=user_id,
        )
        print(f"two workers: {w2:,.0f} jobs/s", flush=True)
        latencies, facade = await idle_latency(
            settings, database, redis, pings=args.pings, facade_jobs=min(args.jobs, 2000)
        )
    finally:
        keys = [
            k
            for pattern in key_patterns(settings.jobs_queue_name)
            async for k in redis.scan_iter(match=pattern)
        ]
        if keys:
            await redis.delete(*keys)
        await redis.aclose()
        await database.dispose()

    p50, p99 = percentile(latencies, 50), percentile(latencies, 99)
    db = "PostgreSQL" if url.startswith("postgresql") else "SQLite"
    print(f"| {args.job} ({db}, {args.jobs} jobs, concurrency {args.concurrency}) | value |")
    print("|---|---|")
    print(f"| one worker | {w1:,.0f} jobs/s ({cpu1:.2f} ms worker CPU per job) |")
    print(f"| two workers | {w2:,.0f} jobs/s ({cpu2:.2f} ms worker CPU per job) |")
    print(f"| enqueue, 20 in flight | {enqueue_rate:,.0f} jobs/s |")
    print(f"| enqueue, the app's facade (50 in flight) | {facade:,.0f} jobs/s |")
    print(
        f"| enqueue-to-start at idle, p50 / p99 ({len(latencies)} jobs) "
        f"| {p50:.1f} / {p99:.1f} ms |"
    )
    print(f"| enqueue-to-start at idle, mean | {statistics.mean(latencies):.1f} ms |")
    print(
        f"bench jobs: job={args.job} jobs={args.jobs} w1_jobs_per_s={w1:.0f} "
        f"w2_jobs_per_s={w2:.0f} w1_cpu_ms_per_job={cpu1:.2f} w2_cpu_ms_per_job={cpu2:.2f} "
        f"enqueue_per_s={enqueue_rate:.0f} "
        f"idle_p50_ms={p50:.1f} idle_p99_ms={p99:.1f}"
    )


if __name__ == "__main__":
    asyncio.run(main())
