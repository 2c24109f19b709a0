"""Socket benchmark: many idle sockets, one course's subscribers, delivery latency, memory.

    uv run bench/sockets.py                         # 5,000 sockets, 1,000 subscribed
    uv run bench/sockets.py --sockets 500 --subscribers 100 --messages 5   # quick

What it does, all on 127.0.0.1 (every load is bounded and stops by itself):

1. Seeds a fresh SQLite database (a temp file; ``--db URL`` for another) with a teacher, a
   course and ``--users`` enrolled students, each with a web session (the page cookie).
2. One instance: starts ``campus serve`` (production settings, a random secret, rate limits
   off), opens ``--sockets`` sockets with the cookie (spread over the students), of which
   ``--subscribers`` subscribe to the course, and reads the server's RSS before and after
   (memory per idle socket = RSS delta / sockets). Then the teacher posts ``--messages``
   messages through the REST API, one every ``--interval`` seconds; each subscriber records
   when each ``chat.message`` arrives. Delivery latency = arrival - just before the POST
   was sent (so it includes the insert, the commit and the fan-out).
3. Two instances through Redis (``--redis``, default redis://127.0.0.1:6379/15; skipped
   with a note when Redis does not answer): the same sockets split between two ``campus
   serve`` processes, the messages posted through the first; latency is reported for all
   subscribers and for those on the second instance.

It prints a Markdown table and, last, one line:

    sockets summary: one_p50_ms=N one_p99_ms=N one_lost=N kib_per_idle_socket=N
    one_cpu_ms=N two_p50_ms=N two_p99_ms=N two_lost=N two_cpu_ms=N

``*_cpu_ms`` is the servers' CPU time per message (all their threads, from
``/proc/<pid>/task/*/schedstat``, minus their idle rate measured for 2 s just before):
the POST, the insert and commit, and the fan-out to every subscriber. It depends far less
on the machine's load than the latencies do. The servers are pinned to ``--server-cpu``
(default CPU 0) and this client to ``--client-cpu`` (default CPU 1), as in
``bench/run.py``; pass ``""`` to leave either unpinned.

The client runs in this process (asyncio with uvloop, the ``websockets`` library), on the
same machine as the servers, so its own time to read 1,000 frames is part of the latency.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import resource
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from campus.accounts.hashing import get_passwords  # noqa: E402
from campus.accounts.service import sessions, web_sessions  # noqa: E402
from campus.config import Settings  # noqa: E402
from campus.db import Database  # noqa: E402
from campus.migrations import runner  # noqa: E402
from campus.models.accounts import User, UserRole  # noqa: E402
from campus.models.courses import Course  # noqa: E402
from campus.models.learning import Enrollment  # noqa: E402

CAMPUS = Path(sys.executable).parent / "campus"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def cpu_ns(pid: int) -> int:
    """CPU time the process has run, all threads, in nanoseconds (``/proc/*/schedstat``)."""
    total = 0
    for stat in Path(f"/proc/{pid}/task").glob("*/schedstat"):
        with contextlib.suppress(OSError):
            total += int(stat.read_text().split()[0])
    return total


def pin(pid: int, cpus: str) -> None:
    """Run ``pid`` on ``cpus`` (``"0"``, ``"0,1"``; ``""`` leaves it where it is)."""
    if cpus and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(pid, {int(c) for c in cpus.split(",")})


def raise_fd_limit(need: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(need, soft)), hard))
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < need:
        sys.exit(f"bench: need {need} open files, the hard limit is {hard} (raise ulimit -Hn)")


@dataclass
class Seeded:
    course_id: int
    cookies: list[str]
    teacher_token: str


async def seed(settings: Settings, users: int) -> Seeded:
    database = Database(settings)
    try:
        async with database.session() as session:
            password = await get_passwords(settings).hash("bench-password-" + secrets.token_hex(4))
            teacher = User(
                email=f"teacher-{uuid.uuid4().hex[:8]}@bench.example",
                full_name="Bench Teacher",
                role=UserRole.TEACHER,
                password_hash=password,
                is_verified=True,
            )
            session.add(teacher)
            await session.flush()
            course = Course(
                slug=f"sockets-{uuid.uuid4().hex[:8]}",
                title="Socket bench",
                description="Fan-out",
                teacher_id=teacher.id,
                is_published=True,
            )
            session.add(course)
            students = [
                User(
                    email=f"s{i}-{uuid.uuid4().hex[:6]}@bench.example",
                    full_name=f"Student {i}",
                    password_hash=password,
                    is_verified=True,
                )
                for i in range(users)
            ]
            session.add_all(students)
            await session.flush()
            session.add_all(Enrollment(user_id=s.id, course_id=course.id) for s in students)
            cookies = []
            for student in students:
                web = await web_sessions.start_web_session(session, settings, student)
                cookies.append(web.cookie_value)
            tokens = await sessions.start_session(session, settings, teacher)
            return Seeded(course.id, cookies, tokens.access_token)
    finally:
        await database.dispose()


@dataclass
class Server:
    url: str
    ws_url: str
    process: subprocess.Popen[bytes]


@contextlib.contextmanager
def serve(env: dict[str, str], cpus: str = "") -> Iterator[Server]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [str(CAMPUS), "serve", "--host", "127.0.0.1", "--port", str(port)],
        env={**env, "CAMPUS_BASE_URL": url},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    pin(process.pid, cpus)
    try:
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None:
                sys.exit("bench: campus serve exited at start")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/health/live", timeout=1).status_code == 200:
                    break
            if time.monotonic() > deadline:
                sys.exit("bench: campus serve did not start")
            time.sleep(0.2)
        yield Server(url, f"ws://127.0.0.1:{port}/api/v1/ws", process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


@dataclass
class Subscriber:
    ws: ClientConnection
    instance: int
    arrivals: dict[int, float] = field(default_factory=dict)  # message number -> time


async def open_sockets(
    servers: list[Server], cookies: list[str], count: int, concurrency: int = 200
) -> list[tuple[ClientConnection, int]]:
    opened: list[tuple[ClientConnection, int]] = []
    gate = asyncio.Semaphore(concurrency)

    async def one(i: int) -> None:
        server = servers[i % len(servers)]
        cookie = cookies[i % len(cookies)]
        async with gate:
            ws = await connect(
                server.ws_url,
                origin=server.url,  # type: ignore[arg-type]
                additional_headers={"Cookie": f"campus_session={cookie}"},
                ping_interval=None,
                max_queue=None,
                open_timeout=60,
            )
        opened.append((ws, i % len(servers)))

    await asyncio.gather(*(one(i) for i in range(count)))
    return opened


async def subscribe(subscribers: list[Subscriber], course_id: int) -> None:
    async def one(sub: Subscriber) -> None:
        await sub.ws.send(json.dumps({"type": "subscribe", "course_id": course_id}))
        reply = json.loads(await asyncio.wait_for(sub.ws.recv(), 60))
        if reply.get("type") != "subscribed":
            raise RuntimeError(f"subscribe refused: {reply}")

    gate = asyncio.Semaphore(100)

    async def gated(sub: Subscriber) -> None:
        async with gate:
            await one(sub)

    await asyncio.gather(*(gated(s) for s in subscribers))


async def listen(sub: Subscriber) -> None:
    with contextlib.suppress(Exception):
        async for raw in sub.ws:
            now = time.perf_counter()
            frame = json.loads(raw)
            if frame.get("type") == "chat.message":
                body = frame["message"]["body"]
                if body.startswith("bench "):
                    sub.arrivals[int(body.split()[1])] = now


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


@dataclass
class Result:
    label: str
    latencies_ms: list[float]
    expected: int
    received: int
    second_latencies_ms: list[float] = field(default_factory=list)
    cpu_ms_per_message: float = float("nan")

    @property
    def lost(self) -> int:
        return self.expected - self.received


async def run_case(
    label: str,
    servers: list[Server],
    seeded: Seeded,
    args: argparse.Namespace,
    rss: dict[str, Any],
) -> Result:
    pids = [s.process.pid for s in servers]
    await asyncio.sleep(1.0)
    before = [rss_kib(pid) for pid in pids]
    opened = await open_sockets(servers, seeded.cookies, args.sockets)
    await asyncio.sleep(2.0)  # let allocations settle
    after = [rss_kib(pid) for pid in pids]
    rss[label] = {"before_kib": before, "after_kib": after, "sockets": len(opened)}
    # Subscribers alternate between the instances, so both have their share.
    subscribers = [Subscriber(ws, inst) for ws, inst in opened[: args.subscribers]]
    await subscribe(subscribers, seeded.course_id)
    listeners = [asyncio.create_task(listen(s)) for s in subscribers]
    # The servers' CPU while idle (keepalive pings of the open sockets), to subtract.
    idle_started, idle_cpu = time.perf_counter(), sum(cpu_ns(pid) for pid in pids)
    await asyncio.sleep(2.0)
    idle_rate = (sum(cpu_ns(pid) for pid in pids) - idle_cpu) / (time.perf_counter() - idle_started)
    busy_started, busy_cpu = time.perf_counter(), sum(cpu_ns(pid) for pid in pids)
    sent: dict[int, float] = {}
    headers = {"Authorization": f"Bearer {seeded.teacher_token}"}
    async with httpx.AsyncClient(base_url=servers[0].url, timeout=30) as client:
        for n in range(args.messages):
            sent[n] = time.perf_counter()
            posted = await client.post(
                f"/api/v1/courses/{seeded.course_id}/messages",
                json={"body": f"bench {n}"},
                headers=headers,
            )
            posted.raise_for_status()
            await asyncio.sleep(args.interval)
    deadline = time.monotonic() + 10
    expected = len(subscribers) * args.messages
    while time.monotonic() < deadline:
        if sum(len(s.arrivals) for s in subscribers) >= expected:
            break
        await asyncio.sleep(0.1)
    busy_ns = sum(cpu_ns(pid) for pid in pids) - busy_cpu
    busy_ns -= idle_rate * (time.perf_counter() - busy_started)
    cpu_ms = busy_ns / 1e6 / max(1, args.messages)
    latencies: list[float] = []
    second: list[float] = []
    for sub in subscribers:
        for n, at in sub.arrivals.items():
            ms = (at - sent[n]) * 1000
            latencies.append(ms)
            if sub.instance == 1:
                second.append(ms)
    for task in listeners:
        task.cancel()
    await asyncio.gather(*(ws.close() for ws, _ in opened), return_exceptions=True)
    return Result(label, latencies, expected, len(latencies), second, cpu_ms)


def redis_answers(url: str) -> bool:
    try:
        import redis

        return bool(redis.Redis.from_url(url, socket_connect_timeout=2).ping())
    except Exception:
        return False


async def main_async(args: argparse.Namespace) -> None:
    raise_fd_limit(args.sockets * 2 + 500)
    pin(0, args.client_cpu)
    workdir = Path(tempfile.mkdtemp(prefix="campus-sockets-"))
    db_url = args.db or f"sqlite+aiosqlite:///{workdir / 'sockets.db'}"
    secret = secrets.token_urlsafe(48)
    settings = Settings(
        env="production", database_url=db_url, secret_key=secret, email_backend="console"
    )
    await asyncio.to_thread(runner.upgrade, settings, "head")
    seeded = await seed(settings, args.users)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAMPUS_")}
    env.update(
        {
            "CAMPUS_ENV": "production",
            "CAMPUS_DATABASE_URL": db_url,
            "CAMPUS_SECRET_KEY": secret,
            "CAMPUS_CERTIFICATE_SIGNING_KEY": base64.b64encode(os.urandom(32)).decode(),
            "CAMPUS_RATE_LIMITS_ENABLED": "false",
            "CAMPUS_LOG_LEVEL": "WARNING",
            "CAMPUS_EMAIL_BACKEND": "console",
            "CAMPUS_WS_SEND_QUEUE": "4096",
        }
    )
    rss: dict[str, Any] = {}
    results: list[Result] = []
    with serve(env, args.server_cpu) as one:
        results.append(await run_case("one instance", [one], seeded, args, rss))
    two_note = ""
    if redis_answers(args.redis):
        env_two = {
            **env,
            "CAMPUS_REDIS_URL": args.redis,
            "CAMPUS_REALTIME_CHANNEL_PREFIX": f"bench-{uuid.uuid4().hex[:8]}",
            "CAMPUS_RATE_LIMIT_KEY_PREFIX": f"bench-{uuid.uuid4().hex[:8]}",
        }
        with serve(env_two, args.server_cpu) as a, serve(env_two, args.server_cpu) as b:
            results.append(await run_case("two instances (Redis)", [a, b], seeded, args, rss))
    else:
        two_note = f"(Redis at {args.redis} does not answer: two-instance case skipped)"

    one_rss = rss["one instance"]
    kib_per_socket = (one_rss["after_kib"][0] - one_rss["before_kib"][0]) / max(
        1, one_rss["sockets"]
    )
    print(
        f"\n### Sockets: {args.sockets} open, {args.subscribers} subscribed, "
        f"{args.messages} messages\n"
    )
    print(
        "| case | deliveries | lost | p50 ms | p99 ms | max ms | server CPU ms per message "
        "| server RSS before -> after |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for result in results:
        r = rss[result.label]
        mem = ", ".join(
            f"{b / 1024:.0f} -> {a / 1024:.0f} MiB"
            for b, a in zip(r["before_kib"], r["after_kib"], strict=True)
        )
        lat = result.latencies_ms
        print(
            f"| {result.label} | {result.received}/{result.expected} | {result.lost} | "
            f"{percentile(lat, 50):.1f} | {percentile(lat, 99):.1f} | "
            f"{max(lat) if lat else float('nan'):.1f} | {result.cpu_ms_per_message:.1f} | "
            f"{mem} |"
        )
        if result.second_latencies_ms:
            s = result.second_latencies_ms
            print(
                f"| ... on the second instance | {len(s)} | | {percentile(s, 50):.1f} | "
                f"{percentile(s, 99):.1f} | {max(s):.1f} | | |"
            )
    print(f"\nMemory per idle socket (one instance): {kib_per_socket:.1f} KiB")
    if two_note:
        print(two_note)
    one_r = results[0]
    summary = (
        f"sockets summary: one_p50_ms={percentile(one_r.latencies_ms, 50):.1f} "
        f"one_p99_ms={percentile(one_r.latencies_ms, 99):.1f} one_lost={one_r.lost} "
        f"kib_per_idle_socket={kib_per_socket:.1f} one_cpu_ms={one_r.cpu_ms_per_message:.1f}"
    )
    if len(results) > 1:
        two_r = results[1]
        summary += (
            f" two_p50_ms={percentile(two_r.latencies_ms, 50):.1f} "
            f"two_p99_ms={percentile(two_r.latencies_ms, 99):.1f} two_lost={two_r.lost} "
            f"two_cpu_ms={two_r.cpu_ms_per_message:.1f}"
        )
    print(summary)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sockets", type=int, default=5000)
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument(
        "--users", type=int, default=100, help="students (cookies) to spread sockets over"
    )
    parser.add_argument("--messages", type=int, default=20)
    parser.add_argument("--interval", type=float, default=0.5, help="seconds between messages")
    parser.add_argument("--db", default=None, help="SQLAlchemy URL (default: a temp SQLite file)")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/15")
    two_cpus = (os.cpu_count() or 1) >= 2
    parser.add_argument(
        "--server-cpu",
        default="0" if two_cpus else "",
        help='CPUs for the campus serve processes ("" = not pinned)',
    )
    parser.add_argument(
        "--client-cpu",
        default="1" if two_cpus else "",
        help='CPUs for this client process ("" = not pinned)',
    )
    args = parser.parse_args()
    if args.subscribers > args.sockets:
        parser.error("--subscribers cannot exceed --sockets")
    try:
        import uvloop

        uvloop.run(main_async(args))
    except ImportError:
        asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
