"""Demo data of the learning domain: the course "Build a task API with FastAPI".

The lessons are Markdown files in ``demo_course/`` (a small front matter of ``key: value``
lines between ``---`` fences, then the body). The loader creates the course once (looked
up by slug), enrolls the demo student and completes the first lessons.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from campus.demo import DemoContext, demo_loader
from campus.kit.clock import utcnow
from campus.learning import repository
from campus.models.accounts import User
from campus.models.courses import Course, CourseLevel, Lesson

COURSE_DIR = Path(__file__).resolve().parent / "demo_course"
COMPLETED_BY_DEMO_STUDENT = 3


@dataclass(frozen=True, slots=True)
class Document:
    meta: dict[str, str]
    body: str


def parse_document(text: str) -> Document:
    """Split ``---``-fenced ``key: value`` front matter from a Markdown body."""
    lines = text.splitlines()
    if not lines or lines[0].strip() != "---":
        raise ValueError("missing front matter")
    end = next(i for i in range(1, len(lines)) if lines[i].strip() == "---")
    meta: dict[str, str] = {}
    for line in lines[1:end]:
        key, _, value = line.partition(":")
        meta[key.strip()] = value.strip()
    return Document(meta=meta, body="\n".join(lines[end + 1 :]).strip() + "\n")


def load_course_documents() -> tuple[Document, list[Document]]:
    course = parse_document((COURSE_DIR / "course.md").read_text(encoding="utf-8"))
    lessons = [
        parse_document(path.read_text(encoding="utf-8"))
        for path in sorted(COURSE_DIR.glob("[0-9][0-9]-*.md"))
    ]
    return course, lessons


@demo_loader("learning", order=30)
async def load(session: AsyncSession, ctx: DemoContext) -> None:
    teacher: User = ctx.objects["teacher"]
    student: User = ctx.objects["student"]
    course_doc, lesson_docs = load_course_documents()
    slug = course_doc.meta["slug"]
    course = (await session.execute(select(Course).where(Course.slug == slug))).scalar_one_or_none()
    if course is None:
        course = Course(
            slug=slug,
            title=course_doc.meta["title"],
            description=course_doc.body,
            level=CourseLevel(course_doc.meta.get("level", "beginner")),
            price_cents=0,
            currency="USD",
            is_published=True,
            teacher_id=teacher.id,
        )
        session.add(course)
        await session.flush()
        lessons = [
            Lesson(
                course_id=course.id,
                title=doc.meta["title"],
                summary=doc.meta.get("summary") or None,
                content=doc.body,
                position=position,
                duration_minutes=int(doc.meta.get("duration_minutes", "0")) or None,
                is_preview=doc.meta.get("is_preview", "false").lower() == "true",
            )
            for position, doc in enumerate(lesson_docs, start=1)
        ]
        session.add_all(lessons)
        await session.flush()
        now = utcnow()
        await repository.insert_enrollment_if_absent(
            session, user_id=student.id, course_id=course.id, now=now
        )
        for lesson in lessons[:COMPLETED_BY_DEMO_STUDENT]:
            await repository.insert_completion_if_absent(
                session, user_id=student.id, lesson_id=lesson.id, course_id=course.id, now=now
            )
    ctx.objects["demo_course"] = course
