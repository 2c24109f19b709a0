"""Clean-up (scheduled, ``CAMPUS_JOBS_CLEANUP_CRON``, hourly): expired or long-ended
sign-in sessions, expired or used single-use tokens (mailed links, social sign-in's
returned states and one-time codes), account activity older than ``KEEP_ACTIVITY`` (a
device unseen that long is a new device again), and old effect keys of sent mail.
Deleting what is already unusable is idempotent by nature."""

from __future__ import annotations

from datetime import timedelta

from campus.accounts import repository
from campus.jobs import JobContext, job
from campus.jobs.failures import forget_effects
from campus.kit.clock import utcnow
from campus.log import get_logger

logger = get_logger("campus.accounts.cleanup")

#: how long an ended session or a used token is kept (for support questions)
KEEP_ENDED = timedelta(days=1)
#: a mail job can only be delivered again while it is in the queue: a week is plenty
KEEP_MAIL_KEYS = timedelta(days=7)
#: the account activity log (sign-ins, password changes) shown on /account
KEEP_ACTIVITY = timedelta(days=180)


@job("accounts.cleanup", schedule_setting="jobs_cleanup_cron")
async def cleanup(ctx: JobContext) -> None:
    now = utcnow()
    async with ctx.session() as session:
        sessions = await repository.delete_stale_sessions(
            session, now=now, revoked_before=now - KEEP_ENDED
        )
        tokens = await repository.delete_stale_tokens(
            session, now=now, used_before=now - KEEP_ENDED
        )
        events = await repository.delete_old_account_events(session, before=now - KEEP_ACTIVITY)
        oauth = await repository.delete_stale_oauth_rows(
            session, now=now, used_before=now - KEEP_ENDED
        )
        mail_keys = await forget_effects(session, prefix="email:", before=now - KEEP_MAIL_KEYS)
    logger.info(
        "cleanup_done",
        sessions=sessions,
        tokens=tokens,
        events=events,
        oauth=oauth,
        mail_keys=mail_keys,
    )
