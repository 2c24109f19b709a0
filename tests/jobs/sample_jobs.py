"""Jobs used only by the tests (loaded through CAMPUS_JOB_MODULES=tests.jobs.sample_jobs).

Every start of ``sample.effect`` leaves a marker ``<key>:try:<n>``, and its effect is the
key ``<key>`` in ``job_effects``, written only at the end: counting them shows how often a
job ran and how often its effect happened.
"""

from __future__ import annotations

import asyncio

from campus.jobs import JobContext, PermanentJobError, claim_effect, job
from campus.models.accounts import User


@job("sample.effect", max_tries=4)
async def effect(ctx: JobContext, *, key: str, sleep: float = 0.0, fail_times: int = 0) -> None:
    async with ctx.session() as session:
        await claim_effect(session, f"{key}:try:{ctx.attempt}", job=ctx.job)
    if sleep:
        await asyncio.sleep(sleep)
    if ctx.attempt <= fail_times:
        raise RuntimeError(f"planned failure {ctx.attempt} of {fail_times}")
    async with ctx.session() as session:
        await claim_effect(session, key, job=ctx.job)


@job("sample.needs_user")
async def needs_user(ctx: JobContext, *, user_id: int) -> None:
    async with ctx.session() as session:
        if await session.get(User, user_id) is None:
            raise PermanentJobError(f"user {user_id} does not exist")
        await claim_effect(session, f"user-seen:{user_id}", job=ctx.job)


@job("sample.notify_once")
async def notify_once(ctx: JobContext, *, user_id: int, n: int) -> None:
    from campus.notifications import service as notifications

    await notifications.notify_once(
        ctx,
        effect=f"sample-notify:{user_id}:{n}",
        user_id=user_id,
        kind="sample.notice",
        data={"n": n},
        title=f"Notice {n}",
    )
