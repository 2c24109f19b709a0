"""bench/run.py's arithmetic: wrk reports to results, the summary line (no load is run)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

BENCH = Path(__file__).resolve().parents[2] / "bench"


def _load(name: str) -> ModuleType:
    if str(BENCH) not in sys.path:
        sys.path.insert(0, str(BENCH))
    spec = importlib.util.spec_from_file_location(f"campus_bench_{name}", BENCH / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


run = _load("run")


def _report(requests: int, non2xx: int = 0, p50_us: int = 2000, p99_us: int = 9000) -> dict:
    return {
        "requests": requests,
        "duration_us": 10_000_000,
        "bytes": 0,
        "requests_per_s": requests / 10,
        "p50_us": p50_us,
        "p90_us": p99_us,
        "p99_us": p99_us,
        "max_us": p99_us,
        "mean_us": p50_us,
        "non2xx": non2xx,
        "last_bad_status": 404 if non2xx else 0,
        "errors_connect": 0,
        "errors_read": 0,
        "errors_write": 0,
        "errors_timeout": 0,
    }


def _result(name: str, scale: str = "10k", **kw: int) -> object:
    scenario = run.Scenario(name, "/x")
    return run.result_from(_report(**kw), backend="postgresql", scale=scale, scenario=scenario)


def test_only_2xx_responses_count_as_throughput() -> None:
    result = _result("course_get", requests=5000, non2xx=1000)
    assert result.requests_per_s == 400.0
    assert result.errors == 1000
    assert "HTTP 404" in result.note
    assert (result.p50_ms, result.p99_ms) == (2.0, 9.0)


def test_summary_line_ratios_against_the_reference() -> None:
    results = [
        _result("reference", requests=20000),
        _result("course_get", requests=12000),
        _result("catalog_list", requests=9000),
        _result("task_list", requests=8000),
        _result("cabinet", requests=6000),
        _result("login", requests=300),
    ]
    line = run.summary(results, ["10k"], {"p99_ms": 12.345})
    assert line == (
        "bench summary: course_get=0.60 catalog_list=0.45 task_list=0.40 cabinet=0.30 "
        "login_per_s=30.0 login_loop_lag_p99_ms=12.3 list_p99_1m_over_10k=n/a "
        "gradebook_p99_1m_over_10k=n/a"
    )


def test_missing_endpoints_and_both_scales() -> None:
    missing = run.Result("postgresql", "1m", "cabinet", 32, errors=1, note="HTTP 404")
    results = [
        _result("reference", requests=20000),
        _result("catalog_list", requests=9000, p99_us=10_000),
        _result("task_list", requests=9000, p99_us=10_000),
        _result("reference", "1m", requests=20000),
        _result("catalog_list", "1m", requests=9000, p99_us=15_000),
        _result("task_list", "1m", requests=9000, p99_us=25_000),
        missing,
    ]
    line = run.summary(results, ["10k", "1m"], None)
    assert "course_get=n/a" in line
    assert "cabinet=0.00" in line  # the endpoint answered nothing but errors
    assert "login_per_s=n/a login_loop_lag_p99_ms=n/a" in line
    assert "list_p99_1m_over_10k=2.50" in line  # the worst list: task_list
    assert line.endswith("gradebook_p99_1m_over_10k=n/a")


def test_the_gradebook_ratio_compares_its_p99_at_both_scales() -> None:
    results = [
        _result("gradebook", requests=900, p99_us=40_000),
        _result("gradebook", "1m", requests=800, p99_us=60_000),
    ]
    line = run.summary(results, ["10k", "1m"], None)
    assert line.endswith("gradebook_p99_1m_over_10k=1.50")


def test_database_urls() -> None:
    assert run.database_url("postgres", "1m") == (
        "postgresql",
        "postgresql+asyncpg://postgres@127.0.0.1:5432/campus_bench_1m",
    )
    backend, url = run.database_url("sqlite", "10k")
    assert backend == "sqlite"
    assert url.endswith("bench/.data/campus_bench_10k.db")
    backend, url = run.database_url("sqlite+aiosqlite:///rel/x_{scale}.db", "tiny")
    assert backend == "sqlite"
    assert url.startswith("sqlite+aiosqlite:////")  # made absolute for the servers
    assert url.endswith("/rel/x_tiny.db")


def test_twin_summary_compares_each_endpoint_with_its_twin() -> None:
    results = [
        _result("course_get", requests=6000, p99_us=20_000),
        _result("course_get_twin", requests=10000),
        _result("course_get_304", requests=18000),
        _result("task_list", requests=3000, p99_us=80_000),
        _result("task_list_twin", requests=5000, p99_us=300_000),  # a twin's p99 is not Campus's
        _result("create_task", requests=2000, non2xx=10),
        _result("create_task_twin", requests=4000),
    ]
    line = run.twin_summary(results, ["10k"])
    assert line.startswith("bench twins: course_get=0.60 catalog_list=n/a task_list=0.60 ")
    assert "create_task=0.50" in line  # only 2xx responses count
    assert "course_get_304_over_full=3.00 catalog_list_304_over_full=n/a" in line
    assert line.endswith("list_p99_max_ms=80.0 campus_errors=10")


def test_each_endpoint_is_followed_by_its_twin_on_postgresql() -> None:
    manifest = {"published_course_id": 1, "lesson_id": 1, "chat": {"course_id": 1}}
    opts = run.Options(duration=1, warmup=0, quick=True, connections=64)
    names = [s.name for s in run.Bench("postgresql", "10k", "x", manifest, opts).scenarios()]
    for name in run.TWIN_SCENARIOS:
        assert names[names.index(name) + 1] == f"{name}_twin"
    sqlite = [s.name for s in run.Bench("sqlite", "10k", "x", manifest, opts).scenarios()]
    assert not [name for name in sqlite if name.endswith("_twin")]  # twins need PostgreSQL
    assert {s.connections for s in run.Bench("sqlite", "10k", "x", manifest, opts).scenarios()} == {
        64
    }


def test_only_writes_measures_the_reference_and_each_write_with_its_twin() -> None:
    manifest = {"published_course_id": 1, "lesson_id": 1, "chat": {"course_id": 1}}
    opts = run.Options(duration=1, warmup=0, quick=True)
    bench = run.Bench("postgresql", "10k", "x", manifest, opts)
    assert [(s.name, s.method) for s in bench.write_scenarios()] == [
        ("reference", "GET"),
        ("create_task", "POST"),
        ("create_task_twin", "POST"),
        ("complete_lesson", "PUT"),
        ("complete_lesson_twin", "PUT"),
        ("enroll", "POST"),
        ("enroll_twin", "POST"),
    ]
    assert run.parse_args(["--only", "writes"]).only == "writes"


def test_cpu_per_request_ratios() -> None:
    import os

    assert (run.process_cpu_seconds(os.getpid()) or 0) > 0
    assert run.process_cpu_seconds(None) is None
    campus, twin = _result("task_list", requests=3000), _result("task_list_twin", requests=5000)
    campus.cpu_ms_per_request, twin.cpu_ms_per_request = 2.0, 0.8
    line = run.twin_summary([campus, twin], ["10k"])
    assert line.splitlines()[1] == "bench twins by CPU: task_list=0.40"
