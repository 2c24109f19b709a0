"""The weekly teacher digest (opt-in, ``digest_emails``).

``learning.weekly_digest`` (scheduled, ``CAMPUS_JOBS_DIGEST_CRON``, Mondays) enqueues one
``learning.teacher_digest`` per opted-in teacher for the ISO week that just ended. A
teacher's digest writes the effect key ``digest:<teacher>:<week>`` and queues the mail in
one unit of work, so a week is mailed once however often the jobs run.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from campus.email import render_email, send_after_commit
from campus.jobs import JobContext, PermanentJobError, claim_effect, enqueue, job
from campus.kit.clock import utcnow
from campus.learning import repository
from campus.models.accounts import User


def last_week(now: datetime) -> str:
    """The ISO week before the one ``now`` is in, e.g. ``2026-W48``."""
    year, week, _ = (now - timedelta(days=7)).isocalendar()
    return f"{year}-W{week:02d}"


def week_bounds(week: str) -> tuple[datetime, datetime]:
    start = datetime.strptime(week + "-1", "%G-W%V-%u").replace(tzinfo=UTC)
    return start, start + timedelta(days=7)


@job("learning.weekly_digest", schedule_setting="jobs_digest_cron")
async def weekly_digest(ctx: JobContext) -> None:
    week = last_week(utcnow())
    async with ctx.session() as session:
        for teacher_id in await repository.digest_teacher_ids(session):
            enqueue(session, "learning.teacher_digest", teacher_id=teacher_id, week=week)


@job("learning.teacher_digest")
async def teacher_digest(ctx: JobContext, *, teacher_id: int, week: str) -> None:
    try:
        start, end = week_bounds(week)
    except ValueError as exc:
        raise PermanentJobError(f"not an ISO week: {week!r}") from exc
    async with ctx.session() as session:
        teacher = await session.get(User, teacher_id)
        if teacher is None:
            raise PermanentJobError(f"user {teacher_id} does not exist")
        if not (teacher.digest_emails and teacher.is_active):
            return  # opted out (or deactivated) since the digest was queued
        courses = await repository.teacher_week(
            session, teacher_id=teacher_id, start=start, end=end
        )
        if not courses or not await claim_effect(
            session, f"digest:{teacher_id}:{week}", job=ctx.job
        ):
            return
        message = render_email(
            "learning/weekly_digest",
            to=teacher.email,
            locale=teacher.locale,
            context={
                "full_name": teacher.full_name,
                "start": start,
                "end": end - timedelta(days=1),
                "courses": [
                    {"title": t, "new_students": n, "completions": c} for t, n, c in courses
                ],
                "new_students": sum(n for _, n, _ in courses),
                "completions": sum(c for _, _, c in courses),
                "link": f"{ctx.settings.base_url}/teach",
                "base_url": ctx.settings.base_url,
            },
        )
        send_after_commit(session, ctx.settings, message)
