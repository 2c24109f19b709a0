"""`campus demo` seeds a conversation and a few notifications, once."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from campus.demo import registered_loaders, run_loaders
from campus.models.chat import ChatMessage
from campus.models.notifications import Notification


async def test_demo_chat_and_notifications_are_idempotent(session: AsyncSession) -> None:
    assert {"chat", "notifications"} <= set(registered_loaders())
    ctx = await run_loaders(session)
    await run_loaders(session)
    course = ctx.objects["demo_course"]
    messages = (
        select(func.count()).select_from(ChatMessage).where(ChatMessage.course_id == course.id)
    )
    assert (await session.execute(messages)).scalar_one() == 4
    student = ctx.objects["student"]
    teacher = ctx.objects["teacher"]
    mine = select(Notification.kind).where(Notification.user_id == student.id)
    assert sorted((await session.execute(mine)).scalars()) == [
        "course.chat_reply",
        "lesson.published",
    ]
    theirs = select(Notification.kind).where(Notification.user_id == teacher.id)
    assert list((await session.execute(theirs)).scalars()) == ["course.student_joined"]
