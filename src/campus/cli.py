"""The ``campus`` command line."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Coroutine
from typing import Annotated, Any, NoReturn

import typer
import uvicorn

from campus.config import ConfigurationError, Settings, get_settings
from campus.migrations import runner

app = typer.Typer(
    name="campus",
    help="Campus: an open-source learning platform.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
migrate_app = typer.Typer(
    help="Database migrations (Alembic). Without a sub-command: upgrade to head.",
    invoke_without_command=True,
)
app.add_typer(migrate_app, name="migrate")
jobs_app = typer.Typer(
    help="Background jobs: list those that failed for good, queue one again, check the worker."
)
app.add_typer(jobs_app, name="jobs")


def _settings() -> Settings:
    try:
        settings = get_settings()
        settings.check_production()
    except ConfigurationError as exc:
        typer.echo(f"campus: {exc}", err=True)
        raise typer.Exit(1) from exc
    except Exception as exc:  # pydantic ValidationError: show it in one line
        typer.echo(f"campus: invalid configuration: {exc}".replace("\n", " "), err=True)
        raise typer.Exit(1) from exc
    return settings


def _ensure_schema(settings: Settings) -> None:
    """Migrate the embedded SQLite database; refuse any other database that is behind."""
    if settings.is_embedded_default:
        runner.upgrade(settings, "head")
        return
    try:
        current = asyncio.run(runner.database_revisions(settings))
    except Exception as exc:
        typer.echo(f"campus: cannot reach the database: {type(exc).__name__}: {exc}", err=True)
        raise typer.Exit(1) from exc
    if current != runner.head_revisions():
        typer.echo(
            "campus: the database schema is behind the code "
            f"(database at {', '.join(sorted(current)) or 'nothing'}, code at "
            f"{', '.join(sorted(runner.head_revisions()))}). "
            "Run `campus migrate upgrade head` first.",
            err=True,
        )
        raise typer.Exit(1)


# "Every interface": a browser on this machine reaches it at the loopback address.
_ANY_ADDRESS = frozenset({"0.0.0.0", "::", ""})  # noqa: S104 - compared with, not bound


def _serve(settings: Settings, *, host: str, port: int, workers: int, reload: bool) -> None:
    if "base_url" not in settings.model_fields_set:
        # Not configured (no CAMPUS_BASE_URL in the environment or .env): the address being
        # served is the app's own. The socket's Origin check and the links in mail and
        # certificates compare with it, so `campus demo --port 8400` must not keep the
        # default's port 8000. The app's processes read their settings again.
        served_host = "127.0.0.1" if host in _ANY_ADDRESS else host
        if ":" in served_host:
            served_host = f"[{served_host}]"
        os.environ["CAMPUS_BASE_URL"] = f"http://{served_host}:{port}"
        get_settings.cache_clear()
    uvicorn.run(
        "campus.main:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers if not reload else 1,
        reload=reload,
        proxy_headers=bool(settings.trusted_proxies),
        forwarded_allow_ips=",".join(settings.trusted_proxies) or None,
        server_header=False,
        access_log=False,  # campus.access logs every request (campus.http.middleware)
        log_config=None,
        timeout_graceful_shutdown=20,
        # Sockets: protocol pings find dead peers; the frame limit of the app itself
        # (CAMPUS_WS_MAX_FRAME_BYTES, an error frame) is far below this hard cap.
        # websockets' Sans-I/O protocol: about half the memory per idle socket of the legacy
        # one (uvicorn's default, deprecated) and a faster fan-out (bench/sockets.py).
        ws="websockets-sansio",
        # No permessage-deflate: it kept a compressor and a decompressor per socket and
        # compressed each frame once per subscriber, for frames of a few hundred bytes
        # (with it off and the direct sends of campus.realtime.socket: 65.6 -> 29.6 KiB per
        # idle socket, 58 -> 39 ms CPU per fan-out to 1,000; docs/performance.md).
        ws_per_message_deflate=False,
        ws_ping_interval=settings.ws_ping_interval_seconds,
        ws_ping_timeout=settings.ws_ping_timeout_seconds,
        ws_max_size=max(settings.max_body_bytes, settings.ws_max_frame_bytes * 4),
    )


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Worker processes.")] = 1,
    reload: Annotated[bool, typer.Option(help="Reload on code changes (development).")] = False,
) -> None:
    """Serve the application (no demo data). SIGTERM shuts down gracefully."""
    settings = _settings()
    _ensure_schema(settings)
    _serve(settings, host=host, port=port, workers=workers, reload=reload)


@app.command()
def demo(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port.")] = 8000,
) -> None:
    """Migrate the database, load the demo data (once) and serve."""
    from campus.db import Database
    from campus.demo import load_demo

    settings = _settings()
    runner.upgrade(settings, "head")

    async def load() -> list[tuple[str, str, str]]:
        database = Database(settings)
        try:
            ctx = await load_demo(database)
        finally:
            await database.dispose()
        return ctx.sign_ins

    sign_ins = asyncio.run(load())
    url = f"http://{host}:{port}"
    typer.echo(f"\nCampus demo on {url}  (API docs: {url}/docs)")
    if sign_ins:
        typer.echo("Demo sign-ins:")
        for role, email, password in sign_ins:
            typer.echo(f"  {role:<8} {email:<28} {password}")
    typer.echo("")
    _serve(settings, host=host, port=port, workers=1, reload=False)


def _read_admin_password(password: str | None, password_stdin: bool) -> str:
    if password is not None and password_stdin:
        _fail("give either --password or --password-stdin, not both")
    if password_stdin:
        text = sys.stdin.readline()
        return text.rstrip("\r\n")
    if password is not None:
        return password
    from_env = os.environ.get("CAMPUS_ADMIN_PASSWORD")
    if not from_env:
        _fail("a password is required: --password, --password-stdin or CAMPUS_ADMIN_PASSWORD")
    return from_env


def _fail(message: str) -> NoReturn:
    typer.echo(f"campus: {message}", err=True)
    raise typer.Exit(1)


@app.command("create-admin")
def create_admin(
    email: Annotated[str, typer.Option(help="The admin's email address.")],
    password: Annotated[
        str | None,
        typer.Option(help="The password (visible in the process list: prefer the others)."),
    ] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
    full_name: Annotated[
        str | None, typer.Option(help="Full name for a new account (1..100 characters).")
    ] = None,
) -> None:
    """Create an admin, or promote, re-activate and re-password an existing user.

    The password comes from --password, --password-stdin or CAMPUS_ADMIN_PASSWORD. Safe to
    run again.
    """
    from pydantic import EmailStr, TypeAdapter
    from pydantic import ValidationError as PydanticValidationError

    from campus.accounts.policy import password_problem
    from campus.accounts.service import bootstrap
    from campus.db import Database
    from campus.errors import ValidationFailed

    try:
        address = TypeAdapter(EmailStr).validate_python(email.strip()).lower()
    except PydanticValidationError as exc:
        reason = exc.errors()[0]["msg"] if exc.errors() else "not an email address"
        _fail(f"invalid email: {reason}")
    secret = _read_admin_password(password, password_stdin)
    problem = password_problem(secret, email=address)
    if problem is not None:
        _fail(f"password refused: {problem}")
    if full_name is not None and (not full_name.strip() or len(full_name) > 100):
        _fail("--full-name must be 1..100 characters")
    settings = _settings()
    _ensure_schema(settings)

    async def run() -> bool:
        database = Database(settings)
        try:
            async with database.session() as session:
                _user, created = await bootstrap.ensure_admin(
                    session,
                    settings,
                    email=address,
                    password=secret,
                    full_name=full_name.strip() if full_name else None,
                )
        finally:
            await database.dispose()
        return created

    try:
        created = asyncio.run(run())
    except ValidationFailed as exc:
        _fail(f"password refused: {exc.detail}")
    typer.echo(f"{'Created' if created else 'Updated'} admin {address}.")


@migrate_app.callback()
def migrate(ctx: typer.Context) -> None:
    """Apply, revert or inspect migrations."""
    if ctx.invoked_subcommand is None:
        runner.upgrade(_settings(), "head")


@migrate_app.command("upgrade")
def migrate_upgrade(
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
) -> None:
    """Upgrade the database to REVISION (default: head)."""
    runner.upgrade(_settings(), revision)


@migrate_app.command("downgrade")
def migrate_downgrade(
    revision: Annotated[str, typer.Argument(help="Target revision, e.g. -1 or base.")],
) -> None:
    """Downgrade the database to REVISION."""
    runner.downgrade(_settings(), revision)


@migrate_app.command("current")
def migrate_current(verbose: bool = False) -> None:
    """Show the database's current revision."""
    runner.current(_settings(), verbose=verbose)


@migrate_app.command("history")
def migrate_history(verbose: bool = False) -> None:
    """List the migrations."""
    runner.history(_settings(), verbose=verbose)


def _run_fast(main: Coroutine[Any, Any, None]) -> None:
    """Run ``main`` on uvloop where it exists (as uvicorn does for ``campus serve``), else on
    the standard event loop: the worker's per-job cost is mostly loop and socket work."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is not built for every platform
        asyncio.run(main)
    else:
        uvloop.run(main)


@app.command()
def worker(
    concurrency: Annotated[
        int | None,
        typer.Option(min=1, max=1000, help="Jobs run at once (default CAMPUS_JOBS_CONCURRENCY)."),
    ] = None,
    metrics_port: Annotated[
        int | None,
        typer.Option(min=1, max=65535, help="Serve Prometheus metrics on 127.0.0.1:PORT."),
    ] = None,
) -> None:
    """Run the background job worker (needs CAMPUS_REDIS_URL). SIGTERM lets running jobs finish."""
    from campus.jobs.worker import run_worker
    from campus.log import configure_logging

    settings = _settings()
    if not settings.redis_url:
        _fail("the worker needs CAMPUS_REDIS_URL (without Redis, jobs run in the app process)")
    _ensure_schema(settings)
    configure_logging(settings)
    _run_fast(
        run_worker(
            settings,
            concurrency=concurrency or settings.jobs_concurrency,
            metrics_port=metrics_port,
        )
    )


@jobs_app.command("failed")
def jobs_failed(
    include_retried: Annotated[
        bool, typer.Option("--all", help="Also show failures already queued again.")
    ] = False,
) -> None:
    """List the jobs that failed for good (newest first)."""
    from campus.jobs.commands import list_failed

    settings = _settings()
    _ensure_schema(settings)
    lines = asyncio.run(list_failed(settings, include_retried=include_retried))
    if not lines:
        typer.echo("No failed jobs.")
        return
    for line in lines:
        retried = f"  retried {line.retried_at}" if line.retried_at else ""
        typer.echo(
            f"{line.id:>6}  {line.failed_at}  {line.job}  tries={line.attempts}{retried}\n"
            f"        payload {line.payload[:200]}\n        error   {line.error[:500]}"
        )


@jobs_app.command("health")
def jobs_health(
    max_age: Annotated[
        float | None,
        typer.Option(
            min=0.1,
            help="Oldest heartbeat accepted, seconds (default 3 x CAMPUS_JOBS_HEARTBEAT_SECONDS).",
        ),
    ] = None,
) -> None:
    """Exit 0 if this machine's `campus worker` is alive (its heartbeat file is fresh), else 1.

    For container probes (Kubernetes exec liveness, compose healthcheck)."""
    from campus.jobs.heartbeat import check

    health = check(_settings(), max_age=max_age)
    typer.echo(health.detail, err=not health.ok)
    if not health.ok:
        raise typer.Exit(1)


@jobs_app.command("retry")
def jobs_retry(
    failure_id: Annotated[int, typer.Argument(min=1, help="The id shown by `campus jobs failed`.")],
) -> None:
    """Queue a failed job again (without Redis it runs here and now)."""
    from campus.jobs.commands import RetryRefused, retry_failed
    from campus.log import configure_logging

    settings = _settings()
    _ensure_schema(settings)
    configure_logging(settings)
    try:
        where = asyncio.run(retry_failed(settings, failure_id))
    except RetryRefused as exc:
        _fail(str(exc))
    if where == "redis":
        typer.echo(f"Queued failed job {failure_id} again.")
    else:
        typer.echo(f"Ran failed job {failure_id} again in this process.")


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
