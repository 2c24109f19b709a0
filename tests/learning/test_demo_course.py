"""The demo course: real lessons, loaded once, the demo student enrolled and under way."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from campus.demo import run_loaders
from campus.learning.demo import load_course_documents, parse_document
from campus.models.courses import Course, Lesson
from campus.models.learning import Enrollment, LessonCompletion


def test_documents_are_complete_lessons() -> None:
    course, lessons = load_course_documents()
    assert course.meta["slug"] == "build-a-task-api-with-fastapi"
    assert len(lessons) == 12
    for doc in lessons:
        assert doc.meta["title"]
        assert 0 < len(doc.meta["summary"]) <= 500
        assert len(doc.body.split()) > 300  # real text, not a placeholder
        assert "```" in doc.body  # with code samples
    assert [d.meta["is_preview"] for d in lessons[:3]] == ["true", "true", "false"]


def test_parse_document_needs_front_matter() -> None:
    doc = parse_document("---\ntitle: A: B\n---\nBody\n")
    assert doc.meta == {"title": "A: B"}
    assert doc.body == "Body\n"
    try:
        parse_document("no front matter")
    except ValueError:
        pass
    else:
        raise AssertionError("expected ValueError")


async def test_demo_course_loads_once(session: AsyncSession) -> None:
    ctx = await run_loaders(session)
    await run_loaders(session)
    course = ctx.objects["demo_course"]
    count = await session.scalar(
        select(func.count()).select_from(Course).where(Course.slug == course.slug)
    )
    assert count == 1
    positions = (
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
    assert positions == list(range(1, 13))
    student = ctx.objects["student"]
    enrolled = await session.scalar(
        select(func.count()).where(
            Enrollment.course_id == course.id, Enrollment.user_id == student.id
        )
    )
    assert enrolled == 1
    completed = await session.scalar(
        select(func.count()).where(
            LessonCompletion.course_id == course.id, LessonCompletion.user_id == student.id
        )
    )
    assert completed == 3
    assert course.is_published
    assert course.price_cents == 0
