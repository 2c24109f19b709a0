"""Demo data of notifications: what the demo teacher and student would have been told."""

from __future__ import annotations

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from campus.demo import DemoContext, demo_loader
from campus.models.accounts import User
from campus.models.courses import Course, Lesson
from campus.models.notifications import Notification
from campus.notifications import service


@demo_loader("notifications", order=60)
async def load(session: AsyncSession, ctx: DemoContext) -> None:
    teacher: User = ctx.objects["teacher"]
    student: User = ctx.objects["student"]
    course: Course = ctx.objects["demo_course"]
    done = await session.execute(
        select(exists().where(Notification.user_id.in_([teacher.id, student.id])))
    )
    if done.scalar():
        return
    last = (
        await session.execute(
            select(Lesson)
            .where(Lesson.course_id == course.id)
            .order_by(Lesson.position.desc())
            .limit(1)
        )
    ).scalar_one_or_none()
    await service.notify(
        session,
        user_id=teacher.id,
        kind=service.STUDENT_JOINED,
        data={
            "course_id": course.id,
            "course_title": course.title,
            "student_id": student.id,
            "student_name": student.full_name,
        },
        link=f"/courses/{course.id}",
    )
    if last is not None:
        await service.notify(
            session,
            user_id=student.id,
            kind=service.LESSON_PUBLISHED,
            data={
                "course_id": course.id,
                "course_title": course.title,
                "lesson_id": last.id,
                "lesson_title": last.title,
            },
            link=f"/courses/{course.id}/lessons/{last.id}",
        )
    await service.notify(
        session,
        user_id=student.id,
        kind="course.chat_reply",
        title=f"New replies in the chat of {course.title}",
        data={"course_id": course.id},
        link=f"/courses/{course.id}/chat",
    )
