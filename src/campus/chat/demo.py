"""Demo data of the chat: a short conversation in the course "Build a task API"."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from campus.demo import DemoContext, demo_loader
from campus.kit.clock import utcnow
from campus.models.accounts import User
from campus.models.chat import ChatMessage
from campus.models.courses import Course

CONVERSATION = (
    ("teacher", "Welcome to the course chat! Ask here whenever a lesson leaves you stuck."),
    ("student", "Thanks! In lesson 3, should PUT return 200 or 201 when it replaces a task?"),
    ("teacher", "200: the task already existed. 201 is for POST, which creates a new one."),
    ("student", "Got it, my tests pass now."),
)


@demo_loader("chat", order=50)
async def load(session: AsyncSession, ctx: DemoContext) -> None:
    course: Course = ctx.objects["demo_course"]  # made by the learning loader (order 30)
    people: dict[str, User] = {"teacher": ctx.objects["teacher"], "student": ctx.objects["student"]}
    already = await session.execute(select(exists().where(ChatMessage.course_id == course.id)))
    if already.scalar():
        return
    start = utcnow() - timedelta(hours=len(CONVERSATION))
    for i, (who, body) in enumerate(CONVERSATION):
        session.add(
            ChatMessage(
                course_id=course.id,
                author_id=people[who].id,
                body=body,
                created_at=start + timedelta(hours=i),
            )
        )
    await session.flush()
