"""The courses demo loader: published courses with lessons, a draft, a paid course; idempotent."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from campus.courses import demo
from campus.demo import registered_loaders, run_loaders
from campus.models.courses import Course, Lesson


async def test_demo_courses_load_once(session: AsyncSession) -> None:
    assert "courses" in registered_loaders()
    await run_loaders(session)
    again = await run_loaders(session)

    slugs = [spec.slug for spec in demo.COURSES]
    courses = (await session.execute(select(Course).where(Course.slug.in_(slugs)))).scalars().all()
    assert len(courses) == len(slugs)
    assert set(again.objects["courses"]) == set(slugs)
    assert any(not c.is_published for c in courses)
    assert any(c.is_published and c.price_cents > 0 for c in courses)
    assert sum(c.is_published for c in courses) >= 3
    for course in courses:
        lessons = (
            (
                await session.execute(
                    select(Lesson.position)
                    .where(Lesson.course_id == course.id)
                    .order_by(Lesson.position)
                )
            )
            .scalars()
            .all()
        )
        assert lessons == list(range(1, len(lessons) + 1))
        assert lessons
    total = await session.scalar(
        select(func.count()).select_from(Course).where(Course.slug.in_(slugs))
    )
    assert total == len(slugs)
    assert {c.teacher_id for c in courses} == {again.objects["teacher"].id}


async def test_demo_lessons_do_not_repeat_their_title_as_a_heading(session: AsyncSession) -> None:
    """The lesson page shows the title as its h1; content that opens with a heading of its
    own showed the title twice (issue 18)."""
    await run_loaders(session)
    contents = (await session.execute(select(Lesson.title, Lesson.content))).all()
    assert contents
    for title, content in contents:
        assert not content.lstrip().startswith("#"), title
