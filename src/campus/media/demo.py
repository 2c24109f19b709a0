"""Demo media: a cover for the first demo course and a picture in one of its lessons.

The images are drawn with Pillow when the demo is loaded (the repository holds no binary
files) and go through the same upload path as a teacher's (checks, re-encoding, storage).
"""

from __future__ import annotations

import io

from PIL import Image, ImageDraw
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from campus.demo import DemoContext, demo_loader
from campus.media import service
from campus.models.accounts import User
from campus.models.courses import Course, Lesson

DEMO_DIAGRAM_ALT = "Diagram: a value flows into a function and a result comes out"


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def draw_cover(title: str) -> bytes:
    """A 1200x600 cover: a diagonal gradient, rings and the title's initial."""
    width, height = 1200, 600
    small = Image.new("RGB", (24, 12))
    for y in range(12):
        for x in range(24):
            t = (x / 24 + y / 12) / 2
            small.putpixel((x, y), (int(59 + 70 * t), int(79 + 20 * t), int(216 + 14 * t)))
    image = small.resize((width, height), Image.Resampling.BILINEAR)
    draw = ImageDraw.Draw(image)
    for i, radius in enumerate((420, 320, 220)):
        shade = 255 - i * 25
        draw.ellipse(
            (900 - radius, 300 - radius, 900 + radius, 300 + radius),
            outline=(shade, shade, 255),
            width=6,
        )
    draw.rounded_rectangle((80, 200, 280, 400), radius=36, fill=(255, 255, 255))
    draw.text((150, 250), (title[:1] or "C").upper(), fill=(59, 79, 216), font_size=120)
    return _png(image)


def draw_diagram() -> bytes:
    """A small diagram: input -> function -> output."""
    image = Image.new("RGB", (800, 240), (248, 249, 252))
    draw = ImageDraw.Draw(image)
    boxes = [
        (40, 80, 220, 160, "value"),
        (310, 60, 490, 180, "function"),
        (580, 80, 760, 160, "result"),
    ]
    for left, top, right, bottom, label in boxes:
        draw.rounded_rectangle(
            (left, top, right, bottom), radius=18, outline=(59, 79, 216), width=5
        )
        draw.text((left + 30, (top + bottom) // 2 - 16), label, fill=(30, 40, 90), font_size=30)
    for start, end in ((220, 310), (490, 580)):
        draw.line((start + 8, 120, end - 12, 120), fill=(15, 123, 108), width=6)
        draw.polygon([(end - 8, 120), (end - 26, 108), (end - 26, 132)], fill=(15, 123, 108))
    return _png(image)


@demo_loader("media", order=25)
async def load(session: AsyncSession, ctx: DemoContext) -> None:
    """A cover for the first demo course, and the diagram in its second lesson."""
    if ctx.settings is None:
        return  # no storage to write to (a bare test session)
    teacher: User = ctx.objects["teacher"]
    courses: dict[str, Course] = ctx.objects.get("courses", {})
    course = next(iter(courses.values()), None)
    if course is None or course.cover_key is not None:
        return  # loaded before (idempotent)
    await service.upload_cover(
        session,
        ctx.settings,
        teacher,
        course_id=course.id,
        data=draw_cover(course.title),
        filename="cover.png",
    )
    lesson = (
        (
            await session.execute(
                select(Lesson).where(Lesson.course_id == course.id).order_by(Lesson.position)
            )
        )
        .scalars()
        .all()
    )
    if len(lesson) < 2:
        return
    diagram = await service.upload(
        session,
        ctx.settings,
        teacher,
        course_id=course.id,
        data=draw_diagram(),
        filename="function-diagram.png",
    )
    target = lesson[1]
    target.content = f"{target.content.rstrip()}\n\n![{DEMO_DIAGRAM_ALT}]({diagram.url})\n"
    await session.refresh(course)
