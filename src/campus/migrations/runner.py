"""Programmatic Alembic: the `campus migrate` command, start-up checks and tests use this."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from campus.config import Settings
from campus.db import create_engine

MIGRATIONS_DIR = Path(__file__).resolve().parent


def alembic_config(url: str | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("file_template", "%%(year)d_%%(month).2d_%%(day).2d_%%(rev)s_%%(slug)s")
    config.set_main_option("timezone", "UTC")
    if url:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def head_revisions() -> set[str]:
    return set(ScriptDirectory.from_config(alembic_config()).get_heads())


def upgrade(settings: Settings, revision: str = "head") -> None:
    command.upgrade(alembic_config(settings.database_url), revision)


def downgrade(settings: Settings, revision: str) -> None:
    command.downgrade(alembic_config(settings.database_url), revision)


def current(settings: Settings, *, verbose: bool = False) -> None:
    command.current(alembic_config(settings.database_url), verbose=verbose)


def history(settings: Settings, *, verbose: bool = False) -> None:
    command.history(alembic_config(settings.database_url), verbose=verbose)


async def database_revisions(settings: Settings) -> set[str]:
    """The revisions the database is at (empty for a database never migrated)."""

    def read(connection: Connection) -> set[str]:
        return set(MigrationContext.configure(connection).get_current_heads())

    engine = create_engine(settings, foreign_keys=False)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(read)
    finally:
        await engine.dispose()


async def is_up_to_date(settings: Settings) -> bool:
    return await database_revisions(settings) == head_revisions()


def include_object_for(dialect_name: str) -> Any:
    """An Alembic ``include_object`` hook that honours ``Index(...).ddl_if(dialect=...)``.

    Alembic's autogenerate ignores ``ddl_if``, so a PostgreSQL-only index (e.g. the trigram
    index of course search) would look missing on SQLite. This hook leaves such objects out
    when comparing against another dialect.
    """

    def include_object(
        obj: Any, _name: str | None, type_: str, reflected: bool, _compare_to: Any
    ) -> bool:
        ddl_if = getattr(obj, "_ddl_if", None)
        if type_ == "index" and not reflected and ddl_if is not None and ddl_if.dialect:
            return bool(ddl_if.dialect == dialect_name)
        return True

    return include_object
