"""Delivery after commit, in the background.

:func:`send_after_commit` registers the message on the session; when the unit of work has
committed, the message is handed to a background task, so the response never waits for the
mail server and its timing reveals nothing (e.g. whether a password-reset email exists).
Delivery failures are logged (recipient and subject only). :func:`wait_for_outgoing`
waits for messages still in flight: the app's shutdown calls it, and so do tests.
"""

from __future__ import annotations

import asyncio

from sqlalchemy.ext.asyncio import AsyncSession

from campus.config import Settings
from campus.email.backends import EmailBackend, get_backend
from campus.email.message import EmailMessage
from campus.kit.aftercommit import after_commit
from campus.log import get_logger

logger = get_logger("campus.email")
_in_flight: set[asyncio.Task[None]] = set()


async def _deliver(backend: EmailBackend, message: EmailMessage) -> None:
    try:
        await backend.send(message)
    except Exception as exc:
        logger.error(
            "email_send_failed",
            to=message.to,
            subject=message.subject,
            error=type(exc).__name__,
        )


def _start_delivery(backend: EmailBackend, message: EmailMessage) -> None:
    task = asyncio.get_running_loop().create_task(_deliver(backend, message))
    _in_flight.add(task)
    task.add_done_callback(_in_flight.discard)


def send_after_commit(session: AsyncSession, settings: Settings, message: EmailMessage) -> None:
    """Send ``message`` once ``session``'s unit of work commits (never if it rolls back)."""
    backend = get_backend(settings)
    after_commit(session, lambda: _start_delivery(backend, message))


async def wait_for_outgoing(within: float | None = None) -> None:
    """Wait until every message handed off so far has been delivered (or has failed)."""
    pending = set(_in_flight)
    if not pending:
        return
    _done, not_done = await asyncio.wait(pending, timeout=within)
    if not_done:
        logger.warning("email_shutdown_pending", count=len(not_done))
