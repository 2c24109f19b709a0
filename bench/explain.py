"""EXPLAIN (ANALYZE, BUFFERS) of the hot queries, as Campus itself builds them.

    uv run bench/explain.py --scale 1m          # campus_bench_1m on 127.0.0.1:5432
    uv run bench/explain.py --db postgresql+asyncpg://postgres@127.0.0.1:5432/campus_bench_10k

The statements come from the repositories (the catalog, one course, the benchmark
student's task list and cabinet: each page and its count), are compiled for PostgreSQL with
the values a request binds, and are explained on a database seeded by ``bench/seed.py``.
It prints each plan and, last, one line per statement with its execution time and whether
any big table was read by a sequential scan.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

import seed as seed_module  # noqa: E402
from sqlalchemy import text  # noqa: E402
from sqlalchemy.dialects import postgresql  # noqa: E402

from campus.accounts import repository as accounts  # noqa: E402
from campus.config import Settings  # noqa: E402
from campus.courses import repository as courses  # noqa: E402
from campus.db import create_engine  # noqa: E402
from campus.kit.pagination.params import PageParams, SortKey  # noqa: E402
from campus.kit.pagination.statements import page_statement  # noqa: E402
from campus.learning import repository as learning  # noqa: E402
from campus.models.accounts import User, UserRole  # noqa: E402
from campus.models.courses import CourseLevel  # noqa: E402
from campus.tasks import repository as tasks  # noqa: E402

BIG_TABLES = ("users", "courses", "lessons", "enrollments", "lesson_completions", "tasks")


def _page(
    query: Any, sort: tuple[SortKey, ...], sorts: Any, tie: Any
) -> tuple[Any, dict[str, Any]]:
    params = PageParams(skip=0, limit=20, sort=sort)
    stmt = page_statement(query.page, params, sort_columns=sorts, tie_breaker=tie, shape=None)
    return stmt, {**query.values, "_page_limit": 20, "_page_offset": 0}


def _students_page(course_id: int) -> tuple[Any, dict[str, Any]]:
    query = learning.students_query(course_id)
    params = PageParams(skip=0, limit=20, sort=(SortKey("enrolled_at", False),))
    sorts = learning.STUDENT_SORTS
    tie = learning.STUDENT_TIE_BREAKER
    page = page_statement(query.page, params, sort_columns=sorts, tie_breaker=tie, shape=None)
    return page, {**query.values, "_page_limit": 20, "_page_offset": 0}


def statements(manifest: dict[str, Any]) -> list[tuple[str, Any, dict[str, Any]]]:
    student = User(id=manifest["student"]["id"], role=UserRole.STUDENT)
    teacher = User(id=manifest["teacher"]["id"], role=UserRole.TEACHER)
    catalog = courses.course_list_query(None, courses.CourseFilters())
    teacher_catalog = courses.course_list_query(teacher, courses.CourseFilters())
    by_level = courses.course_list_query(None, courses.CourseFilters(level=CourseLevel.BEGINNER))
    course_id = manifest["published_course_id"]
    task_list = tasks.list_query(owner_id=student.id)
    cabinet = learning.cabinet_query(student)
    students = learning.students_query(course_id)
    newest = (SortKey("created_at", True),)
    return [
        (
            "course_get",
            courses._course_by_id("published"),
            {"course_id": course_id},
        ),
        ("catalog_count", catalog.count, dict(catalog.values)),
        ("catalog_count_teacher", teacher_catalog.count, dict(teacher_catalog.values)),
        ("catalog_count_level", by_level.count, dict(by_level.values)),
        ("users_count", accounts.users_total(), {}),
        ("students_count", students.count, dict(students.values)),
        ("catalog_page", *_page(catalog, newest, courses.COURSE_SORTS, courses.Course.id)),
        ("task_count", task_list.count, dict(task_list.values)),
        ("task_page", *_page(task_list, newest, tasks.SORT_COLUMNS, tasks.TIE_BREAKER)),
        ("students_page", *_students_page(course_id)),
        ("cabinet_count", cabinet.count, dict(cabinet.values)),
        (
            "cabinet_page",
            *_page(
                cabinet,
                (SortKey("enrolled_at", True),),
                learning.CABINET_SORTS,
                learning.Enrollment.id,
            ),
        ),
    ]


def compile_sql(stmt: Any, values: dict[str, Any]) -> str:
    compiled = stmt.compile(dialect=postgresql.asyncpg.dialect())
    params = {**compiled.params, **values}
    literal = stmt.params(params).compile(
        dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}
    )
    return str(literal)


async def explain(url: str, manifest: dict[str, Any]) -> int:
    engine = create_engine(Settings(database_url=url))
    summary: list[str] = []
    try:
        async with engine.connect() as conn:
            for name, stmt, values in statements(manifest):
                sql = compile_sql(stmt, values)
                rows = await conn.execute(text("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + sql))
                plan = [row[0] for row in rows]
                print(f"-- {name}\n" + "\n".join(plan) + "\n")
                ms = next((m for m in map(_execution_ms, plan) if m is not None), float("nan"))
                seq = sorted({t for line in plan for t in _seq_scans(line) if t in BIG_TABLES})
                summary.append(
                    f"{name}: {ms:.3f} ms, seq scans of big tables: {', '.join(seq) or 'none'}"
                )
    finally:
        await engine.dispose()
    print(f"explain: scale {manifest['scale']}")
    print("\n".join(summary))
    return 0


def _execution_ms(line: str) -> float | None:
    match = re.search(r"Execution Time: ([0-9.]+) ms", line)
    return float(match.group(1)) if match else None


def _seq_scans(line: str) -> list[str]:
    return re.findall(r"Seq Scan on (\w+)", line)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", choices=("10k", "1m"), default="1m")
    parser.add_argument("--db", help="SQLAlchemy URL (default: campus_bench_<scale> on :5432)")
    args = parser.parse_args()
    url = args.db or f"postgresql+asyncpg://postgres@127.0.0.1:5432/campus_bench_{args.scale}"
    manifest = seed_module.read_manifest(url)
    if manifest is None:
        print(f"explain: {url} was not seeded by bench/seed.py", file=sys.stderr)
        return 2
    return asyncio.run(explain(url, manifest))


if __name__ == "__main__":
    raise SystemExit(main())
