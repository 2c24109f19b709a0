"""PostgreSQL stopped under load (a cluster of the test's own, never the shared server):
503 problems with ``Retry-After`` during the outage, no 500, no hang past the pool timeout,
recovery by itself within seconds, and every acknowledged write still there."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from campus.config import Settings
from campus.migrations import runner
from tests.faults.load import Timeline, sign_up, write_tasks
from tests.faults.servers import PostgresCluster, campus_serve

pytestmark = pytest.mark.postgres_only

POOL_TIMEOUT = 3.0
OUTAGE_SECONDS = 3.0


@pytest.mark.parametrize("mode", ["fast", "immediate"])
def test_outage_is_503_then_recovers_and_nothing_acknowledged_is_lost(
    pg_cluster: PostgresCluster, mode: str
) -> None:
    url = pg_cluster.createdb("campus")
    runner.upgrade(Settings(env="test", database_url=url), "head")
    probes: dict[str, httpx.Response] = {}
    with campus_serve(
        url, {"CAMPUS_DB_POOL_TIMEOUT_SECONDS": str(POOL_TIMEOUT), "CAMPUS_DB_POOL_SIZE": "4"}
    ) as server:

        async def outage(timeline: Timeline) -> None:
            loop = asyncio.get_running_loop()
            timeline.fault_started = loop.time()
            await asyncio.to_thread(pg_cluster.stop, mode)
            await asyncio.sleep(OUTAGE_SECONDS / 2)
            async with httpx.AsyncClient(base_url=server.url, timeout=10) as probe:
                probes["health"] = await probe.get("/health")
                probes["live"] = await probe.get("/health/live")
                probes["page"] = await probe.get("/", headers={"Accept": "text/html"})
            await asyncio.sleep(OUTAGE_SECONDS / 2)
            await asyncio.to_thread(pg_cluster.start)
            timeline.fault_ended = loop.time()

        load = asyncio.run(write_tasks(server.url, clients=6, fault=outage, settle_seconds=3.0))
        after = httpx.get(f"{server.url}/health", timeout=10)

    phases = load.by_phase()
    assert phases["before"]["201"] > 0
    # Every answer is a 201 or a retryable 503: never a 500, never a dropped connection.
    for answer in load.answers:
        assert answer.status in (201, 503), (answer, phases)
        if answer.status == 503:
            assert answer.problem in ("/problems/database-unavailable", "/problems/busy")
            assert answer.retry_after is not None
            assert int(answer.retry_after) >= 1
    assert phases["during"]["503 database-unavailable"] > 0, phases
    # Nothing waited past the pool timeout (plus the loaded machine's slack).
    assert load.max_elapsed("during") < POOL_TIMEOUT + 5, load.max_elapsed("during")
    # Back by itself, within seconds, without restarting Campus.
    recovery = load.recovery_seconds()
    assert recovery is not None, phases
    assert recovery < 5, phases
    # Once the database is back, not one request fails: no dead pooled connection is used.
    assert set(phases["after"]) == {"201"}, phases
    assert after.status_code == 200
    assert after.json()["database"] == "ok"

    assert probes["health"].status_code == 503
    assert probes["health"].json()["database"] == "error"
    assert probes["live"].status_code == 200
    page = probes["page"]
    assert page.status_code == 503
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers.get("retry-after") is not None
    assert 'class="site-header"' in page.text
    assert "Back to the catalog" in page.text

    # Zero acknowledged writes lost.
    present = {int(i) for i in pg_cluster.psql("campus", "SELECT id FROM tasks").split()}
    missing = load.acknowledged - present
    assert not missing, f"{len(missing)} acknowledged tasks are missing"
    assert len(load.acknowledged) > 0


def test_a_quick_restart_with_no_traffic_in_between_costs_no_request(
    pg_cluster: PostgresCluster,
) -> None:
    """Pre-ping is off (CAMPUS_DB_POOL_PRE_PING=false): after a restart that no request saw,
    every pooled connection is dead, and the free closed-connection check at checkout must
    replace each of them, so the first requests after the restart all succeed."""
    url = pg_cluster.createdb("campus")
    runner.upgrade(Settings(env="test", database_url=url), "head")
    with campus_serve(url, {"CAMPUS_DB_POOL_SIZE": "4"}) as server:

        async def scenario() -> list[int]:
            async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
                headers = await sign_up(client)

                async def create(n: int) -> int:
                    answer = await client.post(
                        "/api/v1/tasks", json={"title": f"t{n}"}, headers=headers
                    )
                    return answer.status_code

                # Fill the pool: four connections checked out at once, then returned.
                assert await asyncio.gather(*(create(n) for n in range(8))) == [201] * 8
                await asyncio.to_thread(pg_cluster.stop, "fast")
                await asyncio.to_thread(pg_cluster.start)
                await asyncio.sleep(0.3)  # the loop reads every dead connection's EOF
                return list(await asyncio.gather(*(create(n) for n in range(8, 24))))

        statuses = asyncio.run(scenario())
    assert statuses == [201] * 16, statuses
