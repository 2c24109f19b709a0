"""Mail after commit, as a job (``email.send``, see :mod:`campus.email.jobs`).

:func:`send_after_commit` enqueues the rendered message once the unit of work commits
(never if it rolls back). With Redis, ``campus worker`` delivers it with retries; without
it, it is delivered in this process in the background, so the response never waits for
the mail server and its timing reveals nothing (e.g. whether a password-reset email
exists). :func:`wait_for_outgoing` waits for the mail jobs handed off in this process.
"""

from __future__ import annotations

import secrets

from sqlalchemy.ext.asyncio import AsyncSession

from campus.config import Settings
from campus.email.message import EmailMessage
from campus.jobs import drain, enqueue


def send_after_commit(session: AsyncSession, settings: Settings, message: EmailMessage) -> None:
    """Send ``message`` once ``session``'s unit of work commits (never if it rolls back)."""
    del settings  # the backend is the one of whoever runs the job
    enqueue(
        session,
        "email.send",
        key=secrets.token_hex(16),
        to=message.to,
        subject=message.subject,
        text=message.text,
        html=message.html,
    )


async def wait_for_outgoing(within: float | None = None) -> None:
    """Wait until every job handed off in this process so far has been enqueued or run."""
    await drain(within=within)
