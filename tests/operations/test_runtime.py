"""Garbage-collector tuning when the app starts serving (campus.operations.runtime)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from campus.config import Settings
from campus.main import create_app


@pytest.fixture
def restored_gc() -> Iterator[None]:
    threshold = gc.get_threshold()
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)


@pytest.mark.usefixtures("restored_gc")
async def test_startup_freezes_the_heap_and_sets_the_young_threshold(settings: Settings) -> None:
    app = create_app(settings.model_copy(update={"gc_gen0_threshold": 12_345}))
    gc.unfreeze()
    async with app.router.lifespan_context(app):
        assert gc.get_freeze_count() > 10_000  # the app's long-lived objects are frozen
        assert gc.get_threshold()[0] == 12_345
        # Collections still run: a reference cycle created while serving is reclaimed.
        cycle: list[object] = []
        cycle.append(cycle)
        del cycle
        assert gc.collect() >= 1


@pytest.mark.usefixtures("restored_gc")
async def test_zero_keeps_the_interpreter_threshold(settings: Settings) -> None:
    before = gc.get_threshold()
    app = create_app(settings.model_copy(update={"gc_gen0_threshold": 0}))
    async with app.router.lifespan_context(app):
        assert gc.get_threshold() == before
