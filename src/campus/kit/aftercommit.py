"""Side effects that must happen only once a unit of work has committed (STYLE.md, rule 2).

Code that wants to mail, broadcast or enqueue something during a request registers a
callback on the session with :func:`after_commit`. ``campus.db.unit_of_work`` calls the
callbacks, in order, right after its commit succeeded, and drops them when it rolls back.
Callbacks are synchronous and must be quick: they *hand off* the work (e.g. start a
background delivery), they never do slow I/O themselves. A failing callback is logged and
does not fail the request, whose writes are already stored.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncSession

_KEY = "campus.after_commit"
logger = logging.getLogger("campus.aftercommit")


def after_commit(session: AsyncSession, callback: Callable[[], None]) -> None:
    """Run ``callback`` once the session's unit of work has committed (never on rollback)."""
    session.info.setdefault(_KEY, []).append(callback)


def run_after_commit(session: AsyncSession) -> None:
    callbacks: list[Callable[[], None]] = session.info.pop(_KEY, [])
    for callback in callbacks:
        try:
            callback()
        except Exception:
            logger.exception("after_commit_callback_failed")


def discard_after_commit(session: AsyncSession) -> None:
    session.info.pop(_KEY, None)
