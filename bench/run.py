"""Campus benchmark runner: seeds a database, starts the servers, drives them with wrk.

    uv run bench/run.py --quick                       # 10k, short runs (< 3 minutes)
    uv run bench/run.py --scale 1m --db postgres      # one scale, 10 s runs
    uv run bench/run.py --scale both --db sqlite      # 10k and 1m: adds list_p99_1m_over_10k

``--db`` is ``postgres`` (postgresql+asyncpg://postgres@127.0.0.1:5432/campus_bench_<scale>),
``sqlite`` (bench/.data/campus_bench_<scale>.db), ``auto`` (the default: PostgreSQL when it
answers on 127.0.0.1:5432, else SQLite) or a SQLAlchemy URL, where ``{scale}`` is replaced by
the scale. A database that does not exist or is empty is seeded first (bench/seed.py); one
seeded by an older schema is migrated; a non-empty database that was not seeded by
bench/seed.py is refused (``--reseed`` drops and re-seeds it).

The runner starts ``campus serve`` (production settings, a random secret key, rate limits
off, the loop-lag monitor on) and the reference app (bench/reference_app.py), both pinned to
CPU 0 with ``taskset``, and ``wrk`` pinned to CPU 1. Everything listens on 127.0.0.1, every
load stops by itself, and the servers are stopped on exit, Ctrl-C included.

Every Campus endpoint is followed by its raw twin (bench/reference_app.py ``/twin/...``,
PostgreSQL only): the same statements, JSON and bearer check on asyncpg, measured right
after it, so each ratio is Campus's own overhead (issue 20). The reads are the course
page and its 304 revalidation (``If-None-Match`` with its ETag), the catalog and its 304,
the task list, the cabinet, a course's students (the big class, as its teacher), a
course's chat and the notifications; the writes are create task, complete lesson and
enroll (idempotent after the first request). ``--connections 64`` runs every scenario
at 64 connections; ``--workers 2`` runs ``campus serve --workers 2`` unpinned.

It prints a Markdown table, then

    bench twins: course_get=R catalog_list=R task_list=R cabinet=R course_students=R
    messages=R notifications=R create_task=R complete_lesson=R enroll=R
    course_get_304_over_full=R catalog_list_304_over_full=R list_p99_max_ms=N campus_errors=N

(each R an endpoint's 2xx req/s over its twin's, or a 304 path's over its full GET's) and,
last, one line:

    bench summary: course_get=R catalog_list=R task_list=R cabinet=R login_per_s=N
    login_loop_lag_p99_ms=N list_p99_1m_over_10k=R gradebook_p99_1m_over_10k=R

where each R is the endpoint's successful requests per second divided by the reference
endpoint's, measured in the same run at the same scale (the largest scale run), and
``gradebook_p99_1m_over_10k`` is the p99 of the gradebook of the seeded big class (10,000
students at 1m, every ordinary student at 10k) at 1m over the same at 10k. ``--only
gradebook`` measures just that page; ``--only writes`` the reference and the three writes
with their twins. See docs/performance.md.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
DATA_DIR = BENCH_DIR / ".data"
REPORT_LUA = BENCH_DIR / "wrk" / "report.lua"
sys.path.insert(0, str(BENCH_DIR))

import seed as seed_module  # noqa: E402 - bench/ is not a package

PG_TEMPLATE = "postgresql+asyncpg://postgres@127.0.0.1:5432/campus_bench_{scale}"
SERVER_CPU = "0"
LOAD_CPU = "1"
LIST_SCENARIOS = ("catalog_list", "task_list", "cabinet")
RATIO_SCENARIOS = ("course_get", "catalog_list", "task_list", "cabinet")
# Each measured against its raw twin (bench/reference_app.py /twin/...), measured right after.
TWIN_SCENARIOS = (
    "course_get",
    "catalog_list",
    "task_list",
    "cabinet",
    "course_students",
    "messages",
    "notifications",
    "create_task",
    "complete_lesson",
    "enroll",
)
WRITE_SCENARIOS = ("reference", "create_task", "complete_lesson", "enroll")
TWIN_LISTS = (
    "catalog_list",
    "task_list",
    "cabinet",
    "course_students",
    "messages",
    "notifications",
)


@dataclass
class Scenario:
    name: str
    path: str
    target: str = "campus"  # or "reference"
    auth: bool = False
    connections: int = 32
    as_user: str = "student"  # whose token, with auth: "student" or "teacher"
    method: str = "GET"
    body: str | None = None
    content_type: str | None = None
    twin: str | None = None  # the path of its raw twin on the reference app, if any
    conditional: bool = False  # sent with If-None-Match: its own ETag (a 304 is success)

    def twin_scenario(self) -> Scenario | None:
        if self.twin is None:
            return None
        return replace(
            self, name=f"{self.name}_twin", path=self.twin, target="reference", twin=None
        )


@dataclass
class Result:
    backend: str
    scale: str
    scenario: str
    connections: int
    requests_per_s: float | None = None  # successful (2xx) responses per second
    p50_ms: float | None = None
    p99_ms: float | None = None
    errors: int = 0
    note: str = ""
    raw: dict[str, Any] = field(default_factory=dict)
    cpu_ms_per_request: float | None = None  # the server's CPU (user + system) per 2xx response

    @property
    def ok(self) -> bool:
        return self.requests_per_s is not None and self.requests_per_s > 0


@dataclass
class Options:
    duration: float
    warmup: float
    quick: bool
    server_env: tuple[tuple[str, str], ...] = ()
    connections: int = 32
    workers: int = 1


class BenchError(Exception):
    """The run cannot go on (a server did not start, a tool is missing)."""


# -- processes ------------------------------------------------------------------------------


class Processes:
    """Every process this runner starts, in its own process group, stopped on exit."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, argv: list[str], **kwargs: Any) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(argv, start_new_session=True, **kwargs)
        self.procs.append(proc)
        return proc

    def stop(self, proc: subprocess.Popen[bytes], timeout: float = 10) -> None:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)
        if proc in self.procs:
            self.procs.remove(proc)

    def stop_all(self) -> None:
        for proc in list(reversed(self.procs)):
            self.stop(proc)


PROCESSES = Processes()


def _terminate(signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def pinned(cpu: str, argv: list[str]) -> list[str]:
    if shutil.which("taskset") and (os.cpu_count() or 1) >= 2:
        return ["taskset", "-c", cpu, *argv]
    return argv


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(proc: subprocess.Popen[bytes], url: str, log: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log.read_text(errors="replace")[-2000:]
            raise BenchError(f"server exited with {proc.returncode} before it was ready:\n{tail}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=2).status_code == 200:
                return
        time.sleep(0.3)
    raise BenchError(f"server not ready after {timeout:.0f} s: {url}")


# -- databases ------------------------------------------------------------------------------


def postgres_reachable() -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", 5432), timeout=1):
        return True
    return False


def database_url(db: str, scale: str) -> tuple[str, str]:
    """(backend name, SQLAlchemy URL) for ``--db`` at ``scale``."""
    if db == "auto":
        db = "postgres" if postgres_reachable() else "sqlite"
    if db == "postgres":
        return "postgresql", PG_TEMPLATE.format(scale=scale)
    if db == "sqlite":
        return "sqlite", f"sqlite+aiosqlite:///{DATA_DIR / f'campus_bench_{scale}.db'}"
    url = db.replace("{scale}", scale)
    backend = "postgresql" if url.startswith("postgresql") else "sqlite"
    if backend == "sqlite":
        path = Path(url.split("///", 1)[-1])
        url = f"sqlite+aiosqlite:///{path.resolve()}"  # servers run in another directory
    return backend, url


def ensure_seeded(url: str, scale: str, *, reseed: bool) -> dict[str, Any]:
    """Seed the database when it is absent or empty; migrate an older seeded schema."""
    from campus.migrations import runner

    manifest = None if reseed else seed_module.read_manifest(url)
    if manifest is not None and manifest.get("scale") != scale:
        raise BenchError(
            f"{url} holds the {manifest.get('scale')} data set, not {scale}; "
            "use another --db or pass --reseed"
        )
    if manifest is None:
        if not reseed and not _absent_or_empty(url):
            raise BenchError(
                f"{url} is not empty and was not seeded by bench/seed.py; "
                "pass --reseed to drop and re-seed it"
            )
        argv = [sys.executable, str(BENCH_DIR / "seed.py"), "--scale", scale, "--db", url]
        subprocess.run([*argv, "--recreate"], check=True, stdout=sys.stderr)
        manifest = seed_module.read_manifest(url)
        if manifest is None:
            raise BenchError("seeding finished without a manifest")
        return manifest
    head = ",".join(sorted(runner.head_revisions()))
    if manifest.get("schema_revision") != head:
        print(f"bench: migrating the seeded database to {head}", file=sys.stderr)
        env = {**os.environ, "CAMPUS_DATABASE_URL": url, "CAMPUS_ENV": "development"}
        subprocess.run(
            [campus_bin(), "migrate", "upgrade", "head"], check=True, env=env, stdout=sys.stderr
        )
        seed_module.update_manifest_revision(url, head)
        manifest["schema_revision"] = head
    forgotten = seed_module.forget_writes(url, manifest)
    if forgotten:
        print(f"bench: removed {forgotten:,} tasks an earlier run created", file=sys.stderr)
    return manifest


def _absent_or_empty(url: str) -> bool:
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if seed_module.is_postgres(parsed):
        try:
            return seed_module.is_fresh(parsed)
        except Exception as exc:  # the database does not exist yet
            return "does not exist" in str(exc)
    return seed_module.is_fresh(parsed)


def campus_bin() -> str:
    candidate = Path(sys.executable).parent / "campus"
    return str(candidate) if candidate.exists() else "campus"


# -- wrk ------------------------------------------------------------------------------------


def run_wrk(
    url: str,
    *,
    connections: int,
    duration: float,
    headers: dict[str, str] | None = None,
    method: str = "GET",
    body: str | None = None,
    content_type: str | None = None,
    ok_status: str = "",
) -> subprocess.Popen[bytes]:
    argv = [
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{max(1, round(duration))}s",
        "--timeout",
        "10s",
        "-s",
        str(REPORT_LUA),
    ]
    for name, value in (headers or {}).items():
        argv += ["-H", f"{name}: {value}"]
    argv.append(url)
    env = {
        **os.environ,
        "WRK_METHOD": method,
        "WRK_BODY": body or "",
        "WRK_CONTENT_TYPE": content_type or "",
        "WRK_OK_STATUS": ok_status,
    }
    return PROCESSES.start(
        pinned(LOAD_CPU, argv), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )


def wrk_report(proc: subprocess.Popen[bytes], timeout: float) -> dict[str, Any]:
    try:
        out, _ = proc.communicate(timeout=timeout)
    finally:
        PROCESSES.stop(proc)
    text = out.decode(errors="replace")
    for line in text.splitlines():
        if line.startswith("WRK_JSON "):
            report: dict[str, Any] = json.loads(line[len("WRK_JSON ") :])
            return report
    raise BenchError(f"wrk printed no report:\n{text[-1500:]}")


def process_cpu_seconds(pid: int | None) -> float | None:
    """User + system CPU seconds of a process and its waited-for children (Linux /proc),
    or None. CPU per request holds on a shared machine, where req/s moves with the load."""
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    ticks = os.sysconf("SC_CLK_TCK")
    # After the command: utime, stime, cutime, cstime (fields 14-17 of proc(5)).
    return sum(int(value) for value in fields[11:15]) / ticks


def result_from(report: dict[str, Any], *, backend: str, scale: str, scenario: Scenario) -> Result:
    seconds = report["duration_us"] / 1e6
    socket_errors = sum(
        report[k] for k in ("errors_connect", "errors_read", "errors_write", "errors_timeout")
    )
    ok = report["requests"] - report["non2xx"]
    note = ""
    if report["non2xx"]:
        note = f"{report['non2xx']} x HTTP {report['last_bad_status']} (or other non-2xx)"
    if socket_errors:
        note = (note + "; " if note else "") + f"{socket_errors} socket errors"
    return Result(
        backend=backend,
        scale=scale,
        scenario=scenario.name,
        connections=scenario.connections,
        requests_per_s=ok / seconds if seconds else 0.0,
        p50_ms=report["p50_us"] / 1000,
        p99_ms=report["p99_us"] / 1000,
        errors=report["non2xx"] + socket_errors,
        note=note,
        raw=report,
    )


# -- one scale ------------------------------------------------------------------------------


class Bench:
    def __init__(self, backend: str, scale: str, url: str, manifest: dict[str, Any], opts: Options):
        self.backend = backend
        self.scale = scale
        self.url = url
        self.manifest = manifest
        self.opts = opts
        self.campus = ""
        self.reference = ""
        self.pids: dict[str, int] = {}
        self.token: str | None = None
        self.teacher_token: str | None = None
        self.results: list[Result] = []
        self.loop_lag: dict[str, Any] | None = None
        self.logs: list[Any] = []
        self.etags: dict[str, str] = {}

    def stop(self) -> None:
        PROCESSES.stop_all()
        for handle in self.logs:
            handle.close()
        self.logs.clear()

    def scenarios(self) -> list[Scenario]:
        """The reads, each followed by its raw twin (PostgreSQL), then the writes."""
        course_id = self.manifest["published_course_id"]
        lesson_id = self.manifest.get("lesson_id", 1) + 1  # not a preview, no quiz
        chat = self.manifest.get("chat", {}).get("course_id", course_id)
        big = self.manifest.get("gradebook", {}).get("course_id", course_id)
        c = self.opts.connections
        api, twin = "/api/v1", "/twin"
        reads = [
            Scenario("reference", f"/courses/{course_id}", target="reference", connections=c),
            Scenario(
                "course_get", f"{api}/courses/{course_id}", twin=f"{twin}/courses/{course_id}"
            ),
            Scenario("course_get_304", f"{api}/courses/{course_id}", conditional=True),
            Scenario("catalog_list", f"{api}/courses?limit=20", twin=f"{twin}/courses?limit=20"),
            Scenario("catalog_list_304", f"{api}/courses?limit=20", conditional=True),
            Scenario(
                "task_list", f"{api}/tasks?limit=20", auth=True, twin=f"{twin}/tasks?limit=20"
            ),
            Scenario("cabinet", f"{api}/me/courses", auth=True, twin=f"{twin}/me/courses"),
            Scenario(
                "course_students",
                f"{api}/courses/{big}/students?limit=20",
                auth=True,
                as_user="teacher",
                twin=f"{twin}/courses/{big}/students?limit=20",
            ),
            Scenario(
                "messages",
                f"{api}/courses/{chat}/messages?limit=20",
                auth=True,
                twin=f"{twin}/courses/{chat}/messages?limit=20",
            ),
            Scenario(
                "notifications",
                f"{api}/notifications?limit=20",
                auth=True,
                twin=f"{twin}/notifications?limit=20",
            ),
        ]
        json_body = {
            "body": json.dumps({"title": seed_module.WRITTEN_TASK_TITLE}),
            "content_type": "application/json",
        }
        writes = [
            Scenario(
                "create_task",
                f"{api}/tasks",
                auth=True,
                method="POST",
                twin=f"{twin}/tasks",
                **json_body,
            ),
            Scenario(
                "complete_lesson",
                f"{api}/courses/{course_id}/lessons/{lesson_id}/completion",
                auth=True,
                method="PUT",
                twin=f"{twin}/courses/{course_id}/lessons/{lesson_id}/completion",
            ),
            Scenario(
                "enroll",
                f"{api}/courses/{course_id}/enrollment",
                auth=True,
                method="POST",
                twin=f"{twin}/courses/{course_id}/enrollment",
            ),
        ]
        out: list[Scenario] = []
        for scenario in [*reads[1:], *writes]:
            scenario.connections = c
            out.append(scenario)
            twin_of = scenario.twin_scenario() if self.backend == "postgresql" else None
            if twin_of is not None:
                out.append(twin_of)
        return [reads[0], *out]

    def write_scenarios(self) -> list[Scenario]:
        """The reference, then each write followed by its twin (``--only writes``)."""
        return [s for s in self.scenarios() if s.name.removesuffix("_twin") in WRITE_SCENARIOS]

    def gradebook_scenario(self) -> Scenario | None:
        """The gradebook API of the seeded big class, as its teacher (None: seeded before
        the big class existed; --reseed)."""
        gradebook = self.manifest.get("gradebook")
        if not gradebook:
            return None
        path = f"/api/v1/courses/{gradebook['course_id']}/gradebook?limit=50"
        return Scenario("gradebook", path, auth=True, as_user="teacher", connections=8)

    def measure_gradebook(self) -> None:
        scenario = self.gradebook_scenario()
        if scenario is None:
            note = "seeded before the gradebook course: run with --reseed"
            self.results.append(Result(self.backend, self.scale, "gradebook", 0, note=note))
            return
        self.measure(scenario)

    def login_scenario(self) -> Scenario:
        student = self.manifest["student"]["email"]
        body = f"username={quote(student)}&password={quote(self.manifest['password'])}"
        return Scenario(
            "login",
            "/api/v1/auth/login",
            connections=16,
            method="POST",
            body=body,
            content_type="application/x-www-form-urlencoded",
        )

    def base(self, scenario: Scenario) -> str:
        return self.reference if scenario.target == "reference" else self.campus

    def headers(self, scenario: Scenario) -> dict[str, str]:
        token = self.teacher_token if scenario.as_user == "teacher" else self.token
        headers = {}
        if scenario.auth and token:
            headers["Authorization"] = f"Bearer {token}"
        if scenario.conditional:
            etag = self.etags.get(scenario.path)
            if etag is None:
                with contextlib.suppress(httpx.HTTPError):
                    url = self.base(scenario) + scenario.path
                    etag = httpx.get(url, headers=headers, timeout=30).headers.get("ETag")
                self.etags[scenario.path] = etag or ""
            if etag:
                headers["If-None-Match"] = etag
        return headers

    def start_servers(self, workdir: Path) -> None:
        port, ref_port = free_port(), free_port()
        self.campus = f"http://127.0.0.1:{port}"
        self.reference = f"http://127.0.0.1:{ref_port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("CAMPUS_")}
        env.update(
            CAMPUS_DATABASE_URL=self.url,
            CAMPUS_ENV="production",
            CAMPUS_SECRET_KEY=secrets.token_urlsafe(48),
            CAMPUS_CERTIFICATE_SIGNING_KEY=base64.b64encode(secrets.token_bytes(32)).decode(),
            CAMPUS_BASE_URL=self.campus,
            CAMPUS_LOG_LEVEL="WARNING",
            CAMPUS_RATE_LIMITS_ENABLED="false",
            CAMPUS_BENCH_LOOP_LAG="1",
        )
        env.update(self.opts.server_env)
        campus_log = workdir / "campus.log"
        ref_log = workdir / "reference.log"
        campus_out, ref_out = campus_log.open("wb"), ref_log.open("wb")
        self.logs += [campus_out, ref_out]
        # The working directory is a scratch one, so no stray .env file changes the settings.
        serve = [campus_bin(), "serve", "--host", "127.0.0.1", "--port", str(port)]
        if self.opts.workers > 1:
            # Several workers share every core (wrk too): the --workers comparison.
            serve += ["--workers", str(self.opts.workers)]
        else:
            serve = pinned(SERVER_CPU, serve)
        campus = PROCESSES.start(
            serve,
            env=env,
            cwd=workdir,
            stdout=campus_out,
            stderr=subprocess.STDOUT,
        )
        reference = PROCESSES.start(
            pinned(
                SERVER_CPU,
                [
                    sys.executable,
                    str(BENCH_DIR / "reference_app.py"),
                    "--db",
                    self.url,
                    "--port",
                    str(ref_port),
                ],
            ),
            env=env,
            cwd=workdir,
            stdout=ref_out,
            stderr=subprocess.STDOUT,
        )
        self.pids = {"campus": campus.pid, "reference": reference.pid}
        wait_ready(campus, f"{self.campus}/health/live", campus_log)
        wait_ready(reference, f"{self.reference}/health/live", ref_log)

    def sign_in(self) -> None:
        self.token = self._token_of(self.manifest["student"]["email"])
        gradebook = self.manifest.get("gradebook")
        if gradebook:
            self.teacher_token = self._token_of(gradebook["teacher"]["email"])

    def _token_of(self, email: str) -> str | None:
        body = f"username={quote(email)}&password={quote(self.manifest['password'])}"
        try:
            response = httpx.post(
                self.campus + "/api/v1/auth/login",
                content=body,
                headers={"Content-Type": "application/x-www-form-urlencoded"},
                timeout=30,
            )
        except httpx.HTTPError as exc:
            print(f"bench: sign-in failed: {exc}", file=sys.stderr)
            return None
        if response.status_code == 200:
            return str(response.json()["access_token"])
        print(f"bench: sign-in answered {response.status_code}", file=sys.stderr)
        return None

    def probe(self, scenario: Scenario) -> str | None:
        """None when the endpoint answers 2xx, else why it cannot be measured."""
        if scenario.auth and not self.headers(scenario):
            return "no token (sign-in failed)"
        try:
            response = httpx.request(
                scenario.method,
                self.base(scenario) + scenario.path,
                headers={
                    **self.headers(scenario),
                    **({"Content-Type": scenario.content_type} if scenario.content_type else {}),
                },
                content=scenario.body,
                timeout=30,
            )
        except httpx.HTTPError as exc:
            return f"probe failed: {type(exc).__name__}"
        if scenario.conditional:
            if response.status_code == 304:
                return None
            return f"HTTP {response.status_code}: no ETag to revalidate (304 not built)"
        if 200 <= response.status_code < 300:
            return None
        if response.status_code == 404:
            return "HTTP 404: endpoint not built yet"
        return f"HTTP {response.status_code} on probe"

    def load(self, scenario: Scenario, duration: float) -> subprocess.Popen[bytes]:
        return run_wrk(
            self.base(scenario) + scenario.path,
            connections=scenario.connections,
            duration=duration,
            headers=self.headers(scenario),
            method=scenario.method,
            body=scenario.body,
            content_type=scenario.content_type,
            ok_status="304" if scenario.conditional else "",
        )

    def measure(self, scenario: Scenario) -> Result:
        problem = self.probe(scenario)
        if problem is not None:
            result = Result(
                self.backend,
                self.scale,
                scenario.name,
                scenario.connections,
                errors=1,
                note=problem,
            )
        else:
            if self.opts.warmup:
                wrk_report(self.load(scenario, self.opts.warmup), self.opts.warmup + 30)
            pid = self.pids.get("reference" if scenario.target == "reference" else "campus")
            cpu_before = process_cpu_seconds(pid)
            report = wrk_report(self.load(scenario, self.opts.duration), self.opts.duration + 60)
            cpu_after = process_cpu_seconds(pid)
            result = result_from(report, backend=self.backend, scale=self.scale, scenario=scenario)
            ok = report["requests"] - report["non2xx"]
            if cpu_before is not None and cpu_after is not None and ok:
                result.cpu_ms_per_request = (cpu_after - cpu_before) * 1000 / ok
        self.results.append(result)
        print(f"bench: {_row(result)}", file=sys.stderr, flush=True)
        return result

    def lag(self, action: str) -> dict[str, Any] | None:
        try:
            if action == "reset":
                httpx.post(f"{self.campus}/_bench/loop-lag/reset", timeout=10)
                return None
            response = httpx.get(f"{self.campus}/_bench/loop-lag", timeout=10)
        except httpx.HTTPError:
            return None
        return response.json() if response.status_code == 200 else None

    def measure_login(self) -> None:
        scenario = self.login_scenario()
        self.lag("reset")
        result = self.measure(scenario)
        self.loop_lag = self.lag("read")
        if self.loop_lag and result.ok:
            result.note = (result.note + "; " if result.note else "") + (
                f"loop lag p99 {self.loop_lag['p99_ms']} ms, max {self.loop_lag['max_ms']} ms"
            )

    def measure_during_login(self, scenarios: list[Scenario]) -> None:
        """Another endpoint's latency while 16 clients sign in as fast as they can."""
        login = self.login_scenario()
        me = Scenario("auth_me", "/api/v1/auth/me", auth=True)
        candidates = [s for s in scenarios if s.name == "course_get"] + [me]
        other = next((s for s in candidates if self.probe(s) is None), None)
        if other is None or self.probe(login) is not None:
            return
        other = Scenario(f"{other.name}_during_login", other.path, auth=other.auth, connections=8)
        flood = self.load(login, self.opts.duration + 1)
        try:
            time.sleep(0.5)
            report = wrk_report(self.load(other, self.opts.duration), self.opts.duration + 60)
        finally:
            wrk_report(flood, self.opts.duration + 60)
        result = result_from(report, backend=self.backend, scale=self.scale, scenario=other)
        self.results.append(result)
        print(f"bench: {_row(result)}", file=sys.stderr, flush=True)

    def run(self, *, writes_only: bool = False) -> list[Result]:
        """Every scenario; ``writes_only``: the reference and the writes with their twins."""
        with tempfile.TemporaryDirectory(prefix="campus-bench-") as tmp:
            workdir = Path(tmp)
            try:
                self.start_servers(workdir)
                self.sign_in()
                scenarios = self.write_scenarios() if writes_only else self.scenarios()
                for scenario in scenarios:
                    self.measure(scenario)
                if not writes_only:
                    self.measure_gradebook()
                    self.measure_login()
                    self.measure_during_login(scenarios)
            finally:
                self.stop()
        return self.results


# -- report ---------------------------------------------------------------------------------


def _fmt(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def _row(r: Result) -> str:
    return (
        f"| {r.backend} | {r.scale} | {r.scenario} | {r.connections} | {_fmt(r.requests_per_s)} "
        f"| {_fmt(r.p50_ms, 2)} | {_fmt(r.p99_ms, 2)} | {_fmt(r.cpu_ms_per_request, 3)} "
        f"| {r.errors} | {r.note} |"
    )


def table(results: Sequence[Result]) -> str:
    lines = [
        "| database | scale | scenario | conns | req/s | p50 ms | p99 ms | CPU ms/req | errors "
        "| note |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    lines += [_row(r) for r in results]
    return "\n".join(lines)


def _find(results: Sequence[Result], scale: str, name: str) -> Result | None:
    return next((r for r in results if r.scale == scale and r.scenario == name), None)


def twin_summary(results: Sequence[Result], scales: Sequence[str]) -> str:
    """Each endpoint's req/s over its raw twin's, the 304 paths over their full GET, and the
    worst list p99 (ms) and the errors at this run's connection count."""
    main_scale = scales[-1]
    parts = []
    for name in TWIN_SCENARIOS:
        r, twin = _find(results, main_scale, name), _find(results, main_scale, f"{name}_twin")
        if r is None or twin is None or not twin.ok:
            parts.append(f"{name}=n/a")
        else:
            parts.append(f"{name}={(r.requests_per_s or 0.0) / (twin.requests_per_s or 1.0):.2f}")
    cpu = []
    for name in TWIN_SCENARIOS:
        r, twin = _find(results, main_scale, name), _find(results, main_scale, f"{name}_twin")
        if r and twin and r.cpu_ms_per_request and twin.cpu_ms_per_request:
            cpu.append(f"{name}={twin.cpu_ms_per_request / r.cpu_ms_per_request:.2f}")
    for name in ("course_get", "catalog_list"):
        full, cached = _find(results, main_scale, name), _find(results, main_scale, f"{name}_304")
        if full is None or cached is None or not full.ok:
            parts.append(f"{name}_304_over_full=n/a")
        else:
            ratio = (cached.requests_per_s or 0.0) / (full.requests_per_s or 1.0)
            parts.append(f"{name}_304_over_full={ratio:.2f}")
    lists = [_find(results, main_scale, name) for name in TWIN_LISTS]
    p99s = [r.p99_ms for r in lists if r is not None and r.ok and r.p99_ms is not None]
    parts.append(f"list_p99_max_ms={max(p99s):.1f}" if p99s else "list_p99_max_ms=n/a")
    campus = [r for r in results if r.scale == main_scale and not r.scenario.endswith("_twin")]
    parts.append(f"campus_errors={sum(r.errors for r in campus)}")
    line = "bench twins: " + " ".join(parts)
    if cpu:  # the same ratios from server CPU per request (twin's over Campus's)
        line += "\nbench twins by CPU: " + " ".join(cpu)
    return line


def summary(
    results: Sequence[Result], scales: Sequence[str], loop_lag: dict[str, Any] | None
) -> str:
    main_scale = scales[-1]
    ref = _find(results, main_scale, "reference")
    parts = []
    for name in RATIO_SCENARIOS:
        r = _find(results, main_scale, name)
        if ref is None or ref.requests_per_s is None or not ref.ok or r is None:
            parts.append(f"{name}=n/a")
        else:
            parts.append(f"{name}={(r.requests_per_s or 0.0) / ref.requests_per_s:.2f}")
    login = _find(results, main_scale, "login")
    parts.append(f"login_per_s={_fmt(login.requests_per_s) if login and login.ok else 'n/a'}")
    lag = loop_lag.get("p99_ms") if loop_lag else None
    parts.append(f"login_loop_lag_p99_ms={'n/a' if lag is None else f'{lag:.1f}'}")
    worst: float | None = None
    if "10k" in scales and "1m" in scales:
        for name in LIST_SCENARIOS:
            small, big = _find(results, "10k", name), _find(results, "1m", name)
            if small and big and small.ok and big.ok and small.p99_ms and big.p99_ms:
                ratio = big.p99_ms / small.p99_ms
                worst = ratio if worst is None else max(worst, ratio)
    parts.append(f"list_p99_1m_over_10k={'n/a' if worst is None else f'{worst:.2f}'}")
    small, big = _find(results, "10k", "gradebook"), _find(results, "1m", "gradebook")
    gradebook = "n/a"
    if small and big and small.ok and big.ok and small.p99_ms and big.p99_ms:
        gradebook = f"{big.p99_ms / small.p99_ms:.2f}"
    parts.append(f"gradebook_p99_1m_over_10k={gradebook}")
    return "bench summary: " + " ".join(parts)


# -- entry point ----------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Benchmark Campus against a raw-driver reference endpoint.",
        epilog="See docs/performance.md for what each figure means.",
    )
    parser.add_argument("--quick", action="store_true", help="short runs at 10k (< 3 minutes)")
    parser.add_argument(
        "--scale", choices=["tiny", "10k", "1m", "both"], default=None, help="default 10k"
    )
    parser.add_argument("--db", default="auto", help="auto | postgres | sqlite | a URL")
    parser.add_argument("--duration", type=float, default=None, help="seconds per run")
    parser.add_argument("--reseed", action="store_true", help="drop and re-seed the database")
    parser.add_argument(
        "--only",
        choices=["all", "login", "gradebook", "writes"],
        default="all",
        help="'login': only the login benchmark (bench/login.py); 'gradebook': only the "
        "gradebook of the big class; 'writes': only the reference and the writes (create "
        "task, complete lesson, enroll) with their twins",
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    parser.add_argument(
        "--connections", type=int, default=32, help="wrk connections per scenario (default 32)"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="campus serve --workers N (more than one: the server is not pinned to a core)",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="CAMPUS_NAME=VALUE",
        help="a setting for the Campus server, e.g. CAMPUS_PASSWORD_HASH_CONCURRENCY=1",
    )
    args = parser.parse_args(argv)
    for item in args.set:
        name, sep, _ = item.partition("=")
        if not sep or not name.startswith("CAMPUS_"):
            parser.error(f"--set takes CAMPUS_NAME=VALUE, not {item!r}")
    if args.quick and args.scale not in (None, "10k", "tiny"):
        parser.error("--quick runs at 10k only")
    return args


def check_tools() -> None:
    if shutil.which("wrk") is None:
        print(
            "bench: wrk is not installed. On Debian/Ubuntu: apt-get install -y wrk",
            file=sys.stderr,
        )
        raise SystemExit(2)


def scales_for(args: argparse.Namespace) -> list[str]:
    scale = args.scale or "10k"
    return ["10k", "1m"] if scale == "both" else [scale]


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    check_tools()
    opts = Options(
        duration=args.duration or (4.0 if args.quick else 10.0),
        warmup=1.0 if args.quick else 2.0,
        quick=args.quick,
        server_env=tuple((name, value) for name, _, value in (i.partition("=") for i in args.set)),
        connections=args.connections,
        workers=args.workers,
    )
    signal.signal(signal.SIGTERM, _terminate)
    scales = scales_for(args)
    results: list[Result] = []
    loop_lag: dict[str, Any] | None = None
    started = time.monotonic()
    try:
        for scale in scales:
            backend, url = database_url(args.db, scale)
            manifest = ensure_seeded(url, scale, reseed=args.reseed)
            bench = Bench(backend, scale, url, manifest, opts)
            if args.only == "gradebook":
                with tempfile.TemporaryDirectory(prefix="campus-bench-") as tmp:
                    try:
                        bench.start_servers(Path(tmp))
                        bench.sign_in()
                        bench.measure_gradebook()
                    finally:
                        bench.stop()
            elif args.only == "login":
                with tempfile.TemporaryDirectory(prefix="campus-bench-") as tmp:
                    try:
                        bench.start_servers(Path(tmp))
                        bench.measure_login()
                        bench.sign_in()
                        bench.measure_during_login(bench.scenarios())
                    finally:
                        bench.stop()
            else:
                bench.run(writes_only=args.only == "writes")
            results += bench.results
            loop_lag = bench.loop_lag or loop_lag
    except KeyboardInterrupt:
        print("bench: interrupted; servers stopped", file=sys.stderr)
        return 130
    except (BenchError, subprocess.CalledProcessError) as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 1
    finally:
        PROCESSES.stop_all()
    elapsed = time.monotonic() - started
    runs = f"{', '.join(scales)}; {opts.duration:.0f} s runs; {elapsed:.0f} s in all"
    print(f"\nCampus benchmark ({runs})\n")
    print(table(results))
    if loop_lag:
        print(
            f"\nEvent-loop lag during the login scenario: p50 {loop_lag['p50_ms']} ms, "
            f"p99 {loop_lag['p99_ms']} ms, max {loop_lag['max_ms']} ms "
            f"({loop_lag['samples']} samples every {loop_lag['interval_ms']} ms)"
        )
    if args.json:
        args.json.write_text(
            json.dumps(
                {"scales": scales, "loop_lag": loop_lag, "results": [asdict(r) for r in results]},
                indent=2,
            )
        )
    print()
    print(twin_summary(results, scales))
    print(summary(results, scales, loop_lag))
    return 0


if __name__ == "__main__":
    sys.exit(main())
