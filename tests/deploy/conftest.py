"""Deployment tests: real nginx, pebble, certbot and ``campus serve`` processes.

They bring their own SQLite database, so they run in the SQLite pass only (the PostgreSQL
pass of CI would repeat them unchanged); the backup test is PostgreSQL-only. A missing
binary skips with its Debian package name outside CI and fails under CI=true
(``deploy/check.sh`` installs them)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import PG_ADMIN_URL, service_unavailable
from tests.deploy.harness import CampusServer, make_certificate, start_campus, stop


def require(binary: str, package: str) -> str:
    path = shutil.which(binary) or (
        f"/usr/sbin/{binary}" if Path(f"/usr/sbin/{binary}").exists() else None
    )
    if path is None:
        service_unavailable(f"{binary} is not installed (apt-get install {package})")
    assert path is not None
    return path


@pytest.fixture(scope="session")
def sqlite_pass_only() -> None:
    if PG_ADMIN_URL:
        pytest.skip("runs in the SQLite pass only: it starts its own server on its own database")


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    require("openssl", "openssl")
    return make_certificate(tmp_path_factory.mktemp("tls"), names=("campus.test", "127.0.0.1"))


@pytest.fixture(scope="session")
def campus_server(
    sqlite_pass_only: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[CampusServer]:
    server = start_campus(tmp_path_factory.mktemp("campus"), base_url="https://campus.test")
    try:
        yield server
    finally:
        stop(server.process)
