"""The one place jobs create notifications (API.md §7).

The notifications domain (``campus.notifications``, issue 14) is being built in parallel;
until it lands, this records nothing by itself — the callers' own tables
(``task_reminders``, ``job_effects``) already make every notification exactly-once per
effect key — and only logs. When it lands, this function calls its service in the caller's
unit of work, and nothing else changes.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from campus.log import get_logger

logger = get_logger("campus.notifications.hook")


async def create_notification(
    session: AsyncSession, *, user_id: int, kind: str, data: dict[str, Any]
) -> None:
    """Create the notification ``kind`` for ``user_id`` in ``session``'s unit of work."""
    del session
    logger.info("notification_pending_domain", user_id=user_id, kind=kind, keys=sorted(data))
