"""Soak: mixed traffic at about 70 % of the measured capacity, for a long while.

    nice -n 10 uv run bench/soak.py                    # capacity, then 10 minutes at 70 %
    uv run bench/soak.py --duration 60 --capacity-seconds 15     # a quick look

What it does, all on 127.0.0.1:

1. A throw-away PostgreSQL cluster (``initdb``/``pg_ctl`` in a temp dir, fsync on; as root
   it runs as ``postgres``), migrated, and ``campus serve`` (production settings, a random
   secret, rate limits off) pinned to core 0 with ``taskset``; this load generator pins
   itself to core 1 (PostgreSQL is left to the scheduler). Seeded through the API: a
   teacher with ``--courses`` free published courses of five lessons, ``--students``
   students, each signed in.
2. **Capacity**: ``--capacity-clients`` closed-loop clients run the mix as fast as the
   server answers for ``--capacity-seconds``; capacity = operations per second.
3. **Soak**: the same mix, open loop (operations started at a fixed rate, ``--load`` of
   the capacity, 0.7 by default, whatever the answers' latency) for ``--duration``
   seconds. Reported per minute: requests, errors (any status other than the one the step
   expects, or a transport error), p50 and p99 latency per request, the server's RSS at the
   end of the minute and its CPU use (user + system time over wall time: below 100 % while
   latency grows means the server waited for the CPU, not for work). RSS growth is
   measured from the end of the first minute (warm-up).

The mix, by weight: browse 40 (catalog page, course page, course list, course, lessons
through the API, anonymous), tasks 30 (create, list, edit, complete, delete: each
student's own list kept between 5 and 25 tasks), complete 16 (mark a lesson of an enrolled
course done or not done), enroll 10 (enroll in a course or leave one), sign in 4 (sign in
and sign out). One student's steps never overlap (a lock per student), so every answer is
determined and anything else counts as an error.

The last line is a summary: ``soak summary: capacity_ops=N rate_ops=N requests=N errors=N
p99_ms_first=N p99_ms_last=N rss_growth_pct=N``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import random
import secrets
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

from tests.faults.servers import PostgresCluster, Served, campus_serve  # noqa: E402

from campus.config import Settings  # noqa: E402
from campus.migrations import runner  # noqa: E402

PASSWORD = "soak-password-of-a-student-42"
LESSONS_PER_COURSE = 5


@dataclass
class Student:
    email: str
    headers: dict[str, str]
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    enrolled: set[int] = field(default_factory=set)
    completed: set[tuple[int, int]] = field(default_factory=set)
    tasks: list[int] = field(default_factory=list)


@dataclass
class World:
    courses: dict[int, list[int]]  # course id -> lesson ids
    students: list[Student]


@dataclass
class Sample:
    started: float
    elapsed: float
    ok: bool
    what: str


class Recorder:
    def __init__(self) -> None:
        self.samples: list[Sample] = []
        self.failures: dict[str, int] = {}

    async def call(
        self,
        client: httpx.AsyncClient,
        what: str,
        method: str,
        url: str,
        expect: tuple[int, ...],
        **kw: object,
    ) -> httpx.Response | None:
        started = time.monotonic()
        try:
            response = await client.request(method, url, **kw)  # type: ignore[arg-type]
        except httpx.HTTPError as exc:
            self._record(started, False, what, type(exc).__name__)
            return None
        ok = response.status_code in expect
        self._record(started, ok, what, str(response.status_code))
        return response if ok else None

    def _record(self, started: float, ok: bool, what: str, outcome: str) -> None:
        self.samples.append(Sample(started, time.monotonic() - started, ok, what))
        if not ok:
            key = f"{what} -> {outcome}"
            self.failures[key] = self.failures.get(key, 0) + 1


# -- seeding ------------------------------------------------------------------------------


async def seed(
    client: httpx.AsyncClient, cluster: PostgresCluster, args: argparse.Namespace
) -> World:
    teacher_email = f"teacher-{uuid.uuid4().hex[:8]}@soak.example"
    made = await client.post(
        "/api/v1/auth/register",
        json={"email": teacher_email, "password": PASSWORD, "full_name": "Soak Teacher"},
    )
    made.raise_for_status()
    cluster.psql("campus", f"UPDATE users SET role = 'teacher' WHERE email = '{teacher_email}'")
    teacher = await sign_in(client, teacher_email)
    courses: dict[int, list[int]] = {}
    for number in range(args.courses):
        course = await client.post(
            "/api/v1/courses",
            json={
                "title": f"Soak course {number}",
                "description": "A course of the soak benchmark. " * 20,
                "level": "beginner",
                "is_published": True,
            },
            headers=teacher,
        )
        course.raise_for_status()
        course_id = int(course.json()["id"])
        lessons = []
        for position in range(LESSONS_PER_COURSE):
            lesson = await client.post(
                f"/api/v1/courses/{course_id}/lessons",
                json={
                    "title": f"Lesson {position + 1}",
                    "content": f"# Lesson {position + 1}\n\n" + "Some *Markdown* text. " * 50,
                },
                headers=teacher,
            )
            lesson.raise_for_status()
            lessons.append(int(lesson.json()["id"]))
        courses[course_id] = lessons

    async def student(number: int) -> Student:
        email = f"student-{number}-{uuid.uuid4().hex[:6]}@soak.example"
        registered = await client.post(
            "/api/v1/auth/register",
            json={"email": email, "password": PASSWORD, "full_name": f"Student {number}"},
        )
        registered.raise_for_status()
        return Student(email=email, headers=await sign_in(client, email))

    students: list[Student] = []
    for start in range(0, args.students, 8):
        batch = range(start, min(args.students, start + 8))
        students.extend(await asyncio.gather(*(student(n) for n in batch)))
    return World(courses=courses, students=students)


async def sign_in(client: httpx.AsyncClient, email: str) -> dict[str, str]:
    login = await client.post("/api/v1/auth/login", data={"username": email, "password": PASSWORD})
    login.raise_for_status()
    return {"Authorization": f"Bearer {login.json()['access_token']}"}


# -- the mix ------------------------------------------------------------------------------


async def browse(c: httpx.AsyncClient, rec: Recorder, world: World, _s: Student) -> None:
    course_id = random.choice(list(world.courses))
    step = random.randrange(5)
    if step == 0:
        await rec.call(c, "catalog page", "GET", "/", (200,), headers={"Accept": "text/html"})
    elif step == 1:
        await rec.call(
            c,
            "course page",
            "GET",
            f"/courses/{course_id}",
            (200,),
            headers={"Accept": "text/html"},
        )
    elif step == 2:
        await rec.call(c, "course list", "GET", "/api/v1/courses", (200,), params={"limit": 20})
    elif step == 3:
        await rec.call(c, "course", "GET", f"/api/v1/courses/{course_id}", (200,))
    else:
        await rec.call(c, "lessons", "GET", f"/api/v1/courses/{course_id}/lessons", (200,))


async def tasks(c: httpx.AsyncClient, rec: Recorder, _world: World, s: Student) -> None:
    h = s.headers
    if len(s.tasks) < 5 or (len(s.tasks) < 25 and random.random() < 0.3):
        made = await rec.call(
            c,
            "task create",
            "POST",
            "/api/v1/tasks",
            (201,),
            json={"title": f"Soak task {secrets.token_hex(4)}", "priority": "high"},
            headers=h,
        )
        if made is not None:
            s.tasks.append(int(made.json()["id"]))
        return
    step = random.randrange(4)
    task_id = random.choice(s.tasks)
    if step == 0:
        await rec.call(
            c,
            "task list",
            "GET",
            "/api/v1/tasks",
            (200,),
            params={"sort": "-created_at", "limit": 20},
            headers=h,
        )
    elif step == 1:
        await rec.call(
            c,
            "task edit",
            "PATCH",
            f"/api/v1/tasks/{task_id}",
            (200,),
            json={"description": "edited " + secrets.token_hex(8)},
            headers=h,
        )
    elif step == 2:
        await rec.call(
            c, "task complete", "POST", f"/api/v1/tasks/{task_id}/complete", (200,), headers=h
        )
    else:
        done = await rec.call(
            c, "task delete", "DELETE", f"/api/v1/tasks/{task_id}", (204,), headers=h
        )
        if done is not None:
            s.tasks.remove(task_id)


async def enroll(c: httpx.AsyncClient, rec: Recorder, world: World, s: Student) -> None:
    course_id = random.choice(list(world.courses))
    path = f"/api/v1/courses/{course_id}/enrollment"
    if course_id in s.enrolled and len(s.enrolled) > 2:
        if await rec.call(c, "unenroll", "DELETE", path, (204,), headers=s.headers) is not None:
            s.enrolled.discard(course_id)
            s.completed = {(cid, lid) for cid, lid in s.completed if cid != course_id}
    elif await rec.call(c, "enroll", "POST", path, (200, 201), headers=s.headers) is not None:
        s.enrolled.add(course_id)


async def complete(c: httpx.AsyncClient, rec: Recorder, world: World, s: Student) -> None:
    if not s.enrolled:
        await enroll(c, rec, world, s)
        return
    course_id = random.choice(sorted(s.enrolled))
    lesson_id = random.choice(world.courses[course_id])
    path = f"/api/v1/courses/{course_id}/lessons/{lesson_id}/completion"
    if (course_id, lesson_id) in s.completed:
        if await rec.call(c, "uncomplete", "DELETE", path, (200,), headers=s.headers) is not None:
            s.completed.discard((course_id, lesson_id))
    elif await rec.call(c, "complete", "PUT", path, (200,), headers=s.headers) is not None:
        s.completed.add((course_id, lesson_id))


async def sign_in_out(c: httpx.AsyncClient, rec: Recorder, _world: World, s: Student) -> None:
    login = await rec.call(
        c,
        "sign in",
        "POST",
        "/api/v1/auth/login",
        (200,),
        data={"username": s.email, "password": PASSWORD},
    )
    if login is not None:
        body = login.json()
        await rec.call(
            c,
            "sign out",
            "POST",
            "/api/v1/auth/logout",
            (204,),
            json={"refresh_token": body["refresh_token"]},
            headers={"Authorization": f"Bearer {body['access_token']}"},
        )


Step = Callable[[httpx.AsyncClient, Recorder, World, Student], Awaitable[None]]
MIX: list[tuple[Step, int]] = [
    (browse, 40),
    (tasks, 30),
    (complete, 16),
    (enroll, 10),
    (sign_in_out, 4),
]
STEPS = [step for step, _ in MIX]
WEIGHTS = [weight for _, weight in MIX]


async def one_operation(c: httpx.AsyncClient, rec: Recorder, world: World) -> None:
    step = random.choices(STEPS, WEIGHTS)[0]
    for _ in range(8):  # a student whose previous step is still running is skipped
        student = random.choice(world.students)
        if not student.lock.locked():
            break
    async with student.lock:
        await step(c, rec, world, student)


# -- phases -------------------------------------------------------------------------------


async def capacity(
    client: httpx.AsyncClient, world: World, args: argparse.Namespace
) -> tuple[float, Recorder]:
    rec = Recorder()
    done = 0
    stop_at = time.monotonic() + args.capacity_seconds

    async def loop() -> None:
        nonlocal done
        while time.monotonic() < stop_at:
            await one_operation(client, rec, world)
            done += 1

    started = time.monotonic()
    await asyncio.gather(*(loop() for _ in range(args.capacity_clients)))
    return done / (time.monotonic() - started), rec


def rss_mib(server: Served) -> float:
    return server.rss_kib() / 1024


def cpu_seconds(server: Served) -> float:
    """The server process's user + system CPU time (from /proc)."""
    fields = Path(f"/proc/{server.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def soak(
    client: httpx.AsyncClient, world: World, server: Served, rate: float, args: argparse.Namespace
) -> tuple[Recorder, list[float], list[float], int]:
    rec = Recorder()
    interval = 1.0 / rate
    started = time.monotonic()
    end = started + args.duration
    in_flight: set[asyncio.Task[None]] = set()
    skipped = 0
    rss_by_minute: list[float] = []
    cpu_by_minute: list[float] = []
    cpu_before = cpu_seconds(server)
    minute_started = started
    next_minute = started + 60
    next_at = started
    while True:
        now = time.monotonic()
        if now >= next_minute or now >= end:
            rss_by_minute.append(rss_mib(server))
            cpu_now = cpu_seconds(server)
            cpu_by_minute.append((cpu_now - cpu_before) / max(1e-9, now - minute_started) * 100)
            cpu_before, minute_started = cpu_now, now
            minute = len(rss_by_minute)
            recent = [s for s in rec.samples if s.started >= next_minute - 60]
            errors = sum(not s.ok for s in recent)
            print(
                f"  minute {minute}: {len(recent)} requests, {errors} errors, "
                f"RSS {rss_by_minute[-1]:.1f} MiB, server CPU {cpu_by_minute[-1]:.0f} %",
                flush=True,
            )
            next_minute += 60
        if now >= end:
            break
        if next_at > now:
            await asyncio.sleep(next_at - now)
        next_at += interval
        if len(in_flight) >= args.max_in_flight:
            skipped += 1
            continue
        task = asyncio.create_task(one_operation(client, rec, world))
        in_flight.add(task)
        task.add_done_callback(in_flight.discard)
    if in_flight:
        await asyncio.wait(in_flight, timeout=30)
    return rec, rss_by_minute, cpu_by_minute, skipped


def quantile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def report(
    rec: Recorder,
    rss: list[float],
    cpu: list[float],
    started: float,
    capacity_ops: float,
    rate: float,
    skipped: int,
) -> None:
    print("\n| minute | requests | errors | p50 ms | p99 ms | server RSS MiB | server CPU % |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    p99s = []
    for minute, (rss_now, cpu_now) in enumerate(zip(rss, cpu, strict=True), start=1):
        lo, hi = started + (minute - 1) * 60, started + minute * 60
        window = [s for s in rec.samples if lo <= s.started < hi]
        ms = [s.elapsed * 1000 for s in window]
        p99 = quantile(ms, 0.99)
        p99s.append(p99)
        print(
            f"| {minute} | {len(window)} | {sum(not s.ok for s in window)} | "
            f"{quantile(ms, 0.5):.1f} | {p99:.1f} | {rss_now:.1f} | {cpu_now:.0f} |"
        )
    errors = sum(not s.ok for s in rec.samples)
    print(f"\nerrors by step: {rec.failures or 'none'}")
    print(f"operations not started (in-flight cap reached): {skipped}")
    per_step: dict[str, list[float]] = {}
    for s in rec.samples:
        per_step.setdefault(s.what, []).append(s.elapsed * 1000)
    print("\n| step | requests | p50 ms | p99 ms |")
    print("|---|---:|---:|---:|")
    for what, ms in sorted(per_step.items()):
        print(f"| {what} | {len(ms)} | {quantile(ms, 0.5):.1f} | {quantile(ms, 0.99):.1f} |")
    growth = (rss[-1] - rss[0]) / rss[0] * 100 if len(rss) > 1 and rss[0] else 0.0
    print(
        f"\nRSS after the warm-up minute {rss[0]:.1f} MiB, at the end {rss[-1]:.1f} MiB: "
        f"{growth:+.1f} %"
    )
    print(
        f"soak summary: capacity_ops={capacity_ops:.1f} rate_ops={rate:.1f} "
        f"requests={len(rec.samples)} errors={errors} p99_ms_first={p99s[0] if p99s else 0:.1f} "
        f"p99_ms_last={p99s[-1] if p99s else 0:.1f} "
        f"p99_ms_median={statistics.median(p99s) if p99s else 0:.1f} "
        f"rss_growth_pct={growth:.1f}"
    )


async def run(server: Served, cluster: PostgresCluster, args: argparse.Namespace) -> None:
    # Idle connections are dropped by the client before uvicorn's keep-alive timeout (5 s)
    # can close them under a request being sent (a ReadError that is no server fault).
    limits = httpx.Limits(
        max_connections=args.max_in_flight + 8, max_keepalive_connections=64, keepalive_expiry=2.0
    )
    async with httpx.AsyncClient(base_url=server.url, timeout=60, limits=limits) as client:
        seeded_at = time.monotonic()
        world = await seed(client, cluster, args)
        print(
            f"seeded {len(world.courses)} courses, {len(world.students)} students "
            f"in {time.monotonic() - seeded_at:.0f} s; server RSS {rss_mib(server):.1f} MiB"
        )
        capacity_ops, measured = await capacity(client, world, args)
        errors = sum(not s.ok for s in measured.samples)
        ms = [s.elapsed * 1000 for s in measured.samples]
        print(
            f"capacity: {capacity_ops:.1f} operations/s with {args.capacity_clients} clients "
            f"({len(measured.samples) / args.capacity_seconds:.1f} requests/s, p50 "
            f"{quantile(ms, 0.5):.1f} ms, p99 {quantile(ms, 0.99):.1f} ms, {errors} errors)"
        )
        rate = args.rate or capacity_ops * args.load
        print(
            f"soak: {rate:.1f} operations/s ({args.load:.0%} of capacity) "
            f"for {args.duration:.0f} s",
            flush=True,
        )
        started = time.monotonic()
        rec, rss, cpu, skipped = await soak(client, world, server, rate, args)
    report(rec, rss, cpu, started, capacity_ops, rate, skipped)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=600.0, help="soak seconds")
    parser.add_argument("--load", type=float, default=0.7, help="share of the capacity")
    parser.add_argument("--rate", type=float, default=0.0, help="operations/s (skips the share)")
    parser.add_argument("--capacity-seconds", type=float, default=30.0)
    parser.add_argument("--capacity-clients", type=int, default=16)
    parser.add_argument("--max-in-flight", type=int, default=256)
    parser.add_argument("--students", type=int, default=100)
    parser.add_argument("--courses", type=int, default=10)
    parser.add_argument("--server-cpu", default="0", help="taskset list for campus serve")
    parser.add_argument("--client-cpu", default="1", help="CPUs of this load generator")
    args = parser.parse_args()
    random.seed(2026)
    cluster = PostgresCluster(fsync=True)
    try:
        cluster.start()
        url = cluster.createdb("campus")
        runner.upgrade(Settings(env="test", database_url=url), "head")
        env = {
            "CAMPUS_ENV": "production",
            "CAMPUS_SECRET_KEY": secrets.token_urlsafe(48),
            # production refuses to start without it (a throw-away key: the seed of 32 bytes)
            "CAMPUS_CERTIFICATE_SIGNING_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
            "CAMPUS_LOG_LEVEL": "WARNING",
            "CAMPUS_ACCESS_TOKEN_MINUTES": "240",
        }
        with campus_serve(url, env, prefix=("taskset", "-c", args.server_cpu)) as server:
            os.sched_setaffinity(0, {int(c) for c in args.client_cpu.split(",")})
            asyncio.run(run(server, cluster, args))
    finally:
        cluster.destroy()


if __name__ == "__main__":
    main()
