"""``media.purge``: delete the files of deleted media (an item, or every file of a deleted
course), then their rows. Enqueued after the commit that deleted them; scheduled with the
hourly clean-up (``CAMPUS_JOBS_CLEANUP_CRON``) to retry what a storage failure left.
Idempotent: a file already gone counts as deleted."""

from __future__ import annotations

from campus.jobs import JobContext, job
from campus.log import get_logger
from campus.media import service

logger = get_logger("campus.media")


@job(service.PURGE_JOB, schedule_setting="jobs_cleanup_cron")
async def purge(ctx: JobContext) -> None:
    async with ctx.session() as session:
        purged, failed = await service.purge_deleted(session, ctx.settings)
    if purged or failed:
        logger.info("media_purged", purged=purged, left=failed)
