"""Fault tests: throw-away servers of their own (see ``tests.faults.servers``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import service_unavailable
from tests.faults.servers import PostgresCluster, RedisServer, Unavailable


@pytest.fixture
def pg_cluster() -> Iterator[PostgresCluster]:
    try:
        cluster = PostgresCluster()
        cluster.start()
    except Unavailable as exc:
        service_unavailable(f"cannot run a throw-away PostgreSQL cluster: {exc}")
    try:
        yield cluster
    finally:
        cluster.destroy()


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    try:
        server = RedisServer()
        server.start()
    except Unavailable as exc:
        service_unavailable(f"cannot run a throw-away redis-server: {exc}")
    try:
        yield server
    finally:
        server.stop()
