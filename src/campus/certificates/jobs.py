"""``certificates.issue``: enqueued by the learning domain (after its commit) when a
lesson completion completes a course. Idempotent: the certificate's unique (student,
course) row is the effect's key, so a re-run or a race issues nothing more."""

from __future__ import annotations

from campus.certificates import service
from campus.jobs import JobContext, job


@job(service.ISSUE_JOB)
async def issue(ctx: JobContext, *, user_id: int, course_id: int) -> None:
    async with ctx.session() as session:
        await service.issue_certificate(session, user_id=user_id, course_id=course_id)
