"""``campus demo`` draws a cover and a diagram with Pillow and stores them like uploads."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from campus.config import Settings
from campus.demo import DemoContext, run_loaders
from campus.media.storage import storage_for
from campus.models.courses import Course, Lesson
from campus.models.media import Media


async def test_the_demo_has_a_cover_and_an_image_in_a_lesson(
    session: AsyncSession, settings: Settings
) -> None:
    ctx = await run_loaders(session, DemoContext(settings=settings))
    course = next(iter(ctx.objects["courses"].values()))
    await session.refresh(course)
    assert course.cover_key is not None
    assert await storage_for(settings).exists(course.cover_key)
    lessons = (
        (await session.execute(select(Lesson).where(Lesson.course_id == course.id))).scalars().all()
    )
    with_image = [lesson for lesson in lessons if "](/media/" in lesson.content]
    assert len(with_image) == 1
    rows = (await session.execute(select(func.count()).select_from(Media))).scalar_one()
    assert rows == 2

    await run_loaders(session, DemoContext(settings=settings))  # idempotent
    assert (await session.execute(select(func.count()).select_from(Media))).scalar_one() == 2
    covers = (
        await session.execute(select(func.count()).where(Course.cover_key.is_not(None)))
    ).scalar_one()
    assert covers == 1
