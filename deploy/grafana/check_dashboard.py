"""Check the provisioned Grafana dashboard: well-formed panels on the provisioned data
source, and every query valid PromQL (promtool parses them as recording rules) naming only
metrics Campus, Prometheus or the blackbox exporter export, or the rules record.

Usage: python deploy/grafana/check_dashboard.py   (deploy/check.sh runs it)
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
DASHBOARD = HERE / "dashboards" / "campus.json"
DATASOURCES = HERE / "provisioning" / "datasources" / "prometheus.yml"
RULES = HERE.parent / "prometheus" / "rules" / "campus.yml"

# The names agreed for Campus (docs/deploy.md lists them), Prometheus's own, the exporter's.
KNOWN = {
    "campus_http_requests_total",
    "campus_http_request_duration_seconds_bucket",
    "campus_db_pool_size",
    "campus_db_pool_checked_out",
    "campus_db_pool_checked_in",
    "campus_db_pool_overflow",
    "campus_jobs_enqueued_total",
    "campus_jobs_started_total",
    "campus_jobs_succeeded_total",
    "campus_jobs_failed_total",
    "campus_jobs_retried_total",
    "campus_jobs_queue_depth",
    "campus_job_duration_seconds_bucket",
    "campus_ws_connections",
    "campus_chat_messages_total",
    "campus_notifications_created_total",
    "campus_broadcast_latency_seconds_bucket",
    "campus_enrollments_total",
    "campus_lesson_completions_total",
    "campus_active_learners",
    "campus_ratelimit_fallback_total",
    "up",
    "probe_success",
    "probe_ssl_earliest_cert_expiry",
    "probe_duration_seconds",
}
FUNCTIONS = {
    "sum",
    "rate",
    "increase",
    "max",
    "min",
    "by",
    "histogram_quantile",
    "clamp_min",
    "time",
    "le",
    "avg",
    "count",
}


def fail(message: str) -> None:
    print(f"check_dashboard: {message}", file=sys.stderr)
    sys.exit(1)


def main() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    uid_match = re.search(r"uid:\s*(\S+)", DATASOURCES.read_text())
    if uid_match is None:
        fail("no data source uid in the provisioning file")
    assert uid_match is not None
    uid = uid_match.group(1)
    recorded = set(re.findall(r"record:\s*(\S+)", RULES.read_text()))
    ids: set[int] = set()
    exprs: list[str] = []
    for panel in dashboard["panels"]:
        if panel["id"] in ids:
            fail(f"duplicate panel id {panel['id']}")
        ids.add(panel["id"])
        if panel["type"] == "row":
            continue
        if panel["datasource"]["uid"] != uid:
            fail(f"panel {panel['title']!r} uses data source {panel['datasource']['uid']}")
        if not panel.get("targets"):
            fail(f"panel {panel['title']!r} has no query")
        for target in panel["targets"]:
            exprs.append(target["expr"])
    for expr in exprs:
        bare = re.sub(r"\{[^}]*\}", "", expr)  # label matchers
        bare = re.sub(r"\[[^\]]*\]", "", bare)  # ranges
        bare = re.sub(r'"[^"]*"', "", bare)
        for name in re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", bare):
            if name in FUNCTIONS or name in recorded or name in KNOWN:
                continue
            if re.fullmatch(r"(exported_job|route|status|kind|instance|job|e)", name):
                continue
            fail(f"unknown metric {name!r} in {expr!r}")
    with tempfile.TemporaryDirectory() as tmp:
        rules = Path(tmp) / "dashboard-queries.yml"
        lines = ["groups:", "  - name: dashboard", "    rules:"]
        for i, expr in enumerate(exprs):
            promql = expr.replace("$__rate_interval", "5m")
            lines += [f"      - record: dashboard:query_{i}", f"        expr: {json.dumps(promql)}"]
        rules.write_text("\n".join(lines) + "\n")
        result = subprocess.run(
            ["promtool", "check", "rules", str(rules)], capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            fail(f"promtool refused a dashboard query:\n{result.stdout}{result.stderr}")
    print(f"check_dashboard: {len(ids)} panels, {len(exprs)} queries ok")


if __name__ == "__main__":
    main()
