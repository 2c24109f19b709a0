"""Due-task reminders: exactly one per task and due date.

``tasks.send_due_reminders`` (scheduled, ``CAMPUS_JOBS_REMINDERS_CRON``) finds the open
tasks due within 24 hours that have no reminder for their current due date, and for each
one, in one transaction: records the reminder (unique ``(task_id, due_date)``; a
concurrent run that inserted it first wins and this one skips it), creates the §7
notification through :func:`notify_task_due`, and, if the owner opted in
(``reminder_emails``), queues the reminder mail after the commit. Changing the due date
re-arms the reminder: the new date is a new key.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from campus.email import render_email, send_after_commit
from campus.jobs import JobContext, job
from campus.kit.clock import utcnow
from campus.notifications import service as notifications
from campus.tasks import repository
from campus.tasks.repository import DueTask

BATCH = 200
WINDOW = timedelta(hours=24)


async def notify_task_due(session: AsyncSession, task: DueTask) -> None:
    """The reminder's notification, in the reminder's transaction (delivered live after it
    commits)."""
    await notifications.notify(
        session,
        user_id=task.owner_id,
        kind=notifications.TASK_DUE_SOON,
        data={
            "task_id": task.task_id,
            "task_title": task.title,
            "due_date": task.due_date.isoformat(),
        },
        link="/tasks",
    )


@job("tasks.send_due_reminders", schedule_setting="jobs_reminders_cron")
async def send_due_reminders(ctx: JobContext) -> None:
    now = utcnow()
    while True:
        async with ctx.session() as session:
            due = await repository.tasks_to_remind(
                session, now=now, until=now + WINDOW, limit=BATCH
            )
            for task in due:
                added = await repository.add_reminder(
                    session,
                    task_id=task.task_id,
                    user_id=task.owner_id,
                    due_date=task.due_date,
                    emailed=task.reminder_emails,
                )
                if not added:
                    continue
                await notify_task_due(session, task)
                if task.reminder_emails:
                    message = render_email(
                        "tasks/due_reminder",
                        to=task.email,
                        locale=task.locale,
                        context={
                            "full_name": task.full_name,
                            "title": task.title,
                            "due": task.due_date,
                            "link": f"{ctx.settings.base_url}/tasks",
                            "base_url": ctx.settings.base_url,
                        },
                    )
                    send_after_commit(session, ctx.settings, message)
        if len(due) < BATCH:
            return
