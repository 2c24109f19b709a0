"""The mail job: every outgoing message is delivered by ``email.send``.

The message is rendered in the request (its single-use link exists only there: the
database keeps only the token's SHA-256), so the job carries the rendered message and a
random ``key``. When the job comes from the Redis queue, which may deliver it twice, the
key is written to ``job_effects`` once the provider accepted the message, and a second
delivery finds it and sends nothing. A temporary failure (429, 5xx, timeout, SMTP 4xx) is
retried with backoff; a rejection (other 4xx, SMTP 5xx) fails the job for good with the
provider's message.
"""

from __future__ import annotations

from campus.email.backends import EmailRejected, EmailTemporaryFailure, get_backend
from campus.email.message import EmailMessage
from campus.jobs import JobContext, PermanentJobError, RetryJob, claim_effect, effect_done, job


@job("email.send", max_tries=8)
async def send_email(
    ctx: JobContext, *, key: str, to: str, subject: str, text: str, html: str | None = None
) -> None:
    effect = f"email:{key}"
    if ctx.redelivery_possible:
        async with ctx.session() as session:
            if await effect_done(session, effect):
                return
    message = EmailMessage(to=to, subject=subject, text=text, html=html)
    try:
        await get_backend(ctx.settings).send(message)
    except EmailRejected as exc:
        raise PermanentJobError(f"mail to {to!r} rejected: {exc.detail}") from exc
    except EmailTemporaryFailure as exc:
        raise RetryJob(f"mail to {to!r} not sent yet: {exc.detail}", after=exc.retry_after) from exc
    if ctx.redelivery_possible:
        async with ctx.session() as session:
            await claim_effect(session, effect, job=ctx.job)
