"""`campus create-admin` as a real subprocess, and the demo users."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from campus.accounts.hashing import get_passwords
from campus.cli import app as cli_app
from campus.config import Settings
from campus.db import Database
from campus.demo import load_demo
from campus.models.accounts import AuthSession, User, UserRole
from tests.conftest import PG_ADMIN_URL, _create_pg_database, _drop_pg_database

CAMPUS = [sys.executable, "-c", "from campus.cli import main; main()"]


@pytest.fixture(scope="module")
def cli_database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A database of its own (the CLI commits for real)."""
    if PG_ADMIN_URL:
        url = asyncio.run(_create_pg_database(PG_ADMIN_URL))
        from campus.migrations import runner

        runner.upgrade(Settings(env="test", database_url=url), "head")
        try:
            yield url
        finally:
            asyncio.run(_drop_pg_database(PG_ADMIN_URL, url))
    else:
        yield f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('cli') / 'cli.db'}"


def _run(
    args: list[str], url: str, stdin: str | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("CAMPUS_")}
    environment.update(
        CAMPUS_DATABASE_URL=url,
        CAMPUS_ARGON2_MEMORY_KIB="8192",
        CAMPUS_ARGON2_TIME_COST="1",
        **env,
    )
    return subprocess.run(
        [*CAMPUS, *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=environment,
        timeout=120,
        check=False,
    )


async def _user(url: str, email: str) -> tuple[User | None, int]:
    database = Database(Settings(env="test", database_url=url))
    try:
        async with database.session() as session:
            user = (
                await session.execute(select(User).where(User.email == email))
            ).scalar_one_or_none()
            live = 0
            if user is not None:
                live = len(
                    (
                        await session.execute(
                            select(AuthSession).where(
                                AuthSession.user_id == user.id, AuthSession.revoked_at.is_(None)
                            )
                        )
                    ).all()
                )
            return user, live
    finally:
        await database.dispose()


async def _verify(user: User, password: str) -> bool:
    settings = Settings(env="test", argon2_memory_kib=8192, argon2_time_cost=1)
    valid, _ = await get_passwords(settings).verify_and_update(password, user.password_hash)
    return valid


async def test_create_then_update_is_safe_twice(cli_database_url: str) -> None:
    first = await asyncio.to_thread(
        _run,
        ["create-admin", "--email", " Root@Campus.Example.com ", "--password", "first-passphrase"],
        cli_database_url,
    )
    assert first.returncode == 0, first.stderr
    assert "Created admin root@campus.example.com" in first.stdout
    user, _ = await _user(cli_database_url, "root@campus.example.com")
    assert user is not None
    assert user.role == UserRole.ADMIN
    assert user.is_active
    assert user.is_verified
    assert await _verify(user, "first-passphrase")

    again = await asyncio.to_thread(
        _run,
        ["create-admin", "--email", "root@campus.example.com", "--password-stdin"],
        cli_database_url,
        stdin="second-passphrase\n",
    )
    assert again.returncode == 0, again.stderr
    assert "Updated admin" in again.stdout
    user, _ = await _user(cli_database_url, "root@campus.example.com")
    assert user is not None
    assert await _verify(user, "second-passphrase")


async def test_promotes_and_reactivates_an_existing_user(cli_database_url: str) -> None:
    database = Database(Settings(env="test", database_url=cli_database_url))
    try:
        async with database.session() as session:
            session.add(
                User(
                    email="demoted@campus.example.com",
                    full_name="Dee",
                    role=UserRole.STUDENT,
                    is_active=False,
                )
            )
    finally:
        await database.dispose()
    result = await asyncio.to_thread(
        _run,
        ["create-admin", "--email", "demoted@campus.example.com"],
        cli_database_url,
        CAMPUS_ADMIN_PASSWORD="env-passphrase-1",
    )
    assert result.returncode == 0, result.stderr
    user, _ = await _user(cli_database_url, "demoted@campus.example.com")
    assert user is not None
    assert user.role == UserRole.ADMIN
    assert user.is_active
    assert user.full_name == "Dee"
    assert await _verify(user, "env-passphrase-1")


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["--email", "not-an-email", "--password", "a-long-passphrase"], None, "invalid email"),
        (["--email", "x@campus.example.com", "--password", "password123"], None, "too common"),
    ],
)
async def test_bad_input_exits_1_with_one_line(
    cli_database_url: str, args: list[str], stdin: str | None, message: str
) -> None:
    result = await asyncio.to_thread(_run, ["create-admin", *args], cli_database_url, stdin=stdin)
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert message in lines[0]
    assert "a-long-passphrase" not in result.stderr
    assert "password123" not in result.stderr
    user, _ = await _user(cli_database_url, "x@campus.example.com")
    assert user is None


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["--email", "x@campus.example.com", "--password", "short"], None, "at least 8"),
        (["--email", "x@campus.example.com", "--password", "X@campus.example.com"], None, "email"),
        (["--email", "x@campus.example.com"], None, "password is required"),
        (
            ["--email", "x@campus.example.com", "--password", "a-long-pass", "--password-stdin"],
            "y\n",
            "not both",
        ),
        (["--email", "x@campus.example.com", "--password-stdin"], "", "at least 8"),
    ],
)
def test_more_bad_input_in_process(
    cli_database_url: str,
    args: list[str],
    stdin: str | None,
    message: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The same checks without a process each (they fail before touching the database)."""
    monkeypatch.delenv("CAMPUS_ADMIN_PASSWORD", raising=False)
    result = CliRunner().invoke(cli_app, ["create-admin", *args], input=stdin)
    assert result.exit_code == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert message in lines[0]
    assert "a-long-pass" not in result.stderr


async def test_demo_users_are_loaded_once(
    cli_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CAMPUS_DATABASE_URL", cli_database_url)
    database = Database(Settings(env="test", database_url=cli_database_url))
    try:
        first = await load_demo(database)
        second = await load_demo(database)
    finally:
        await database.dispose()
    assert {role for role, _e, _p in first.sign_ins} >= {"admin", "teacher", "student"}
    assert ("admin", "admin@campus.example", "campus-admin-demo") in second.sign_ins
    assert first.objects["teacher"].id == second.objects["teacher"].id
    assert first.objects["student"].role == UserRole.STUDENT
    for role, email, password in second.sign_ins:
        if role in ("admin", "teacher", "student"):
            user, _ = await _user(cli_database_url, email)
            assert user is not None
            assert user.role == UserRole(role)
            valid, _ = await get_passwords(Settings(env="test")).verify_and_update(
                password, user.password_hash
            )
            assert valid
