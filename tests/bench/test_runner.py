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
