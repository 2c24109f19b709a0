"""Demo data: a registry of loaders that each domain extends.

A loader is ``async def load(session, ctx) -> None``; it must be idempotent (look up what it
would create first), because ``campus demo`` runs every loader on every start. Loaders run
in ``order`` and share ``ctx`` (e.g. the accounts loader puts the demo users there for the
courses loader). Sign-in details added to ``ctx.sign_ins`` are printed by the CLI.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from campus.config import Settings
from campus.db import Database
from campus.domains import domain_modules


@dataclass
class DemoContext:
    objects: dict[str, Any] = field(default_factory=dict)
    sign_ins: list[tuple[str, str, str]] = field(default_factory=list)  # role, email, password
    # The app's settings, for loaders that write outside the database (media files); None
    # when a test runs the loaders on a bare session.
    settings: Settings | None = None


Loader = Callable[[AsyncSession, DemoContext], Awaitable[None]]


@dataclass(order=True)
class _Entry:
    order: int
    name: str
    loader: Loader = field(compare=False)


_REGISTRY: dict[str, _Entry] = {}


def demo_loader(name: str, *, order: int) -> Callable[[Loader], Loader]:
    """Register ``fn`` as the demo loader ``name``; lower ``order`` runs first."""

    def decorate(fn: Loader) -> Loader:
        _REGISTRY[name] = _Entry(order, name, fn)
        return fn

    return decorate


def registered_loaders() -> list[str]:
    domain_modules("demo")  # each domain's demo module registers its loaders on import
    return [entry.name for entry in sorted(_REGISTRY.values())]


async def run_loaders(session: AsyncSession, ctx: DemoContext | None = None) -> DemoContext:
    """Run every registered loader, in order, in ``session`` (which the caller commits)."""
    registered_loaders()
    ctx = ctx or DemoContext()
    for entry in sorted(_REGISTRY.values()):
        await entry.loader(session, ctx)
        await session.flush()
    return ctx


async def load_demo(database: Database) -> DemoContext:
    """Run every loader in one unit of work; safe to call any number of times."""
    async with database.session() as session:
        return await run_loaders(session, DemoContext(settings=database.settings))
