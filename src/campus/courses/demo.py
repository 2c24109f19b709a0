# ruff: noqa: RUF001 - the Russian demo course is written in Cyrillic on purpose
"""Demo courses: the demo teacher's catalog (published, one draft, one paid), with lessons.

Idempotent by slug: a course that already exists is left as it is.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from campus.demo import DemoContext, demo_loader
from campus.models.accounts import User
from campus.models.courses import Course, CourseLevel, Lesson


@dataclass(frozen=True)
class DemoLesson:
    title: str
    summary: str
    content: str
    minutes: int
    preview: bool = False


@dataclass(frozen=True)
class DemoCourse:
    slug: str
    title: str
    description: str
    level: CourseLevel
    lessons: tuple[DemoLesson, ...]
    price_cents: int = 0
    is_published: bool = True


COURSES: tuple[DemoCourse, ...] = (
    DemoCourse(
        slug="python-from-zero",
        title="Python from Zero",
        description=(
            "A first programming course: values and names, decisions, loops and functions, "
            "written for people who have never programmed before."
        ),
        level=CourseLevel.BEGINNER,
        lessons=(
            DemoLesson(
                "Running your first program",
                "Install Python and talk to the interpreter.",
                "Python reads a file from top to bottom and runs each line. Save this as "
                '`hello.py`:\n\n```python\nprint("Hello, Campus!")\n```\n\n'
                "Run it with `python hello.py`. The interactive prompt (`python` with no "
                "file) is handy for trying one line at a time.\n",
                10,
                preview=True,
            ),
            DemoLesson(
                "Values and names",
                "Numbers, text and the names that point at them.",
                "A name is a label attached to a value:\n\n```python\nprice = 12\n"
                'title = "Notebook"\ntotal = price * 3\n```\n\n'
                "- `int` and `float` hold numbers, `str` holds text, `bool` is `True` or "
                "`False`.\n- Re-assigning a name moves the label; the old value is not "
                "changed.\n",
                15,
            ),
            DemoLesson(
                "Making decisions",
                "if, elif and else.",
                '```python\nif total > 30:\n    print("free delivery")\n'
                'elif total > 0:\n    print("delivery costs 3")\nelse:\n    print("cart is '
                'empty")\n```\n\nIndentation is part of the syntax: the indented block belongs '
                "to the line above it.\n",
                15,
            ),
            DemoLesson(
                "Loops and functions",
                "Repeat work and give it a name.",
                "```python\ndef average(numbers):\n"
                "    return sum(numbers) / len(numbers)\n\nfor week in [[3, 4], [5, 6, 7]]:\n"
                "    print(average(week))\n```\n\nA function keeps one idea in one place; a "
                "loop applies it to every item.\n",
                20,
            ),
        ),
    ),
    DemoCourse(
        slug="sql-for-application-developers",
        title="SQL for Application Developers",
        description=(
            "Query, join and index relational data the way a web application needs it, "
            "with examples that run on SQLite and PostgreSQL."
        ),
        level=CourseLevel.INTERMEDIATE,
        lessons=(
            DemoLesson(
                "Selecting and filtering",
                "SELECT, WHERE and ORDER BY.",
                "```sql\nSELECT id, title\nFROM courses\n"
                "WHERE is_published\nORDER BY created_at DESC, id DESC\nLIMIT 20;\n```\n\n"
                "Always end an `ORDER BY` with a unique column, so pages never overlap.\n",
                15,
                preview=True,
            ),
            DemoLesson(
                "Joins and counts",
                "Combine tables without a query per row.",
                "Loading a list and then one query per item is the "
                "*N+1 problem*. Count in the same statement instead:\n\n```sql\n"
                "SELECT c.id, c.title,\n       (SELECT count(*) FROM lessons l WHERE "
                "l.course_id = c.id) AS lessons\nFROM courses c;\n```\n",
                20,
            ),
            DemoLesson(
                "Indexes",
                "Why some queries are fast.",
                "An index is a sorted copy of some columns with pointers back to "
                "the rows. Index the columns you filter and sort by, and check with "
                "`EXPLAIN` that the database uses them. Every index also slows writes a "
                "little, so add the ones your queries need.\n",
                20,
            ),
        ),
    ),
    DemoCourse(
        slug="web-security-essentials",
        title="Web Security Essentials",
        description=(
            "Passwords, sessions, CSRF and access control: the mistakes that leak data, "
            "and the habits that prevent them."
        ),
        level=CourseLevel.ADVANCED,
        price_cents=2900,
        lessons=(
            DemoLesson(
                "Storing passwords",
                "Slow hashes with a salt, never encryption.",
                "Store a slow, salted hash such as Argon2id, never the "
                "password and never a fast hash like SHA-256. Compare the same way for a "
                "known and an unknown account, so timing does not reveal who has signed "
                "up.\n",
                20,
                preview=True,
            ),
            DemoLesson(
                "Sessions and tokens",
                "Short-lived access, rotated refresh.",
                "Keep access tokens short-lived. Rotate refresh "
                "tokens on every use, and treat a reused one as theft: end the whole "
                "session.\n",
                25,
            ),
            DemoLesson(
                "Access control",
                "404 for what you may not see.",
                "Check permissions in one place and scope every list "
                "query to what the user may see. Answer `404` for objects the user may not "
                "know about, `403` for ones they can see but not change.\n",
                20,
            ),
        ),
    ),
    DemoCourse(
        slug="osnovy-git",
        title="Основы Git",
        description="Коммиты, ветки и слияния: как работать с историей проекта без страха.",
        level=CourseLevel.BEGINNER,
        lessons=(
            DemoLesson(
                "Первый коммит",
                "git init, git add, git commit.",
                "```bash\ngit init\ngit add README.md\n"
                'git commit -m "Первый коммит"\n```\n\nКоммит — это снимок файлов с '
                "сообщением о том, что и зачем изменилось.\n",
                10,
                preview=True,
            ),
            DemoLesson(
                "Ветки",
                "Работа параллельно, без помех.",
                "`git switch -c feature` создаёт ветку и переходит на неё. Когда "
                "работа готова, `git merge feature` в основной ветке переносит изменения.\n",
                15,
            ),
        ),
    ),
    DemoCourse(
        slug="async-python-in-depth",
        title="Async Python in Depth",
        description="Event loops, tasks and cancellation. Still being written.",
        level=CourseLevel.ADVANCED,
        is_published=False,
        lessons=(
            DemoLesson(
                "What the event loop does",
                "One thread, many waiting tasks.",
                "An event loop runs one task until it waits "
                "(`await`), then switches to another that is ready. Nothing runs in "
                "parallel; waiting overlaps.\n",
                20,
            ),
        ),
    ),
)


@demo_loader("courses", order=20)
async def load(session: AsyncSession, ctx: DemoContext) -> None:
    """The demo teacher's courses; ``ctx.objects["courses"]`` maps slug -> Course."""
    teacher: User = ctx.objects["teacher"]  # made by the accounts loader (order 10)
    courses: dict[str, Course] = ctx.objects.setdefault("courses", {})
    for spec in COURSES:
        existing = (
            await session.execute(select(Course).where(Course.slug == spec.slug))
        ).scalar_one_or_none()
        if existing is not None:
            courses[spec.slug] = existing
            continue
        course = Course(
            slug=spec.slug,
            title=spec.title,
            description=spec.description,
            level=spec.level,
            price_cents=spec.price_cents,
            currency="USD",
            is_published=spec.is_published,
            teacher_id=teacher.id,
        )
        session.add(course)
        await session.flush()
        session.add_all(
            Lesson(
                course_id=course.id,
                position=position,
                title=lesson.title,
                summary=lesson.summary,
                content=lesson.content,
                duration_minutes=lesson.minutes,
                is_preview=lesson.preview,
            )
            for position, lesson in enumerate(spec.lessons, start=1)
        )
        await session.flush()
        courses[spec.slug] = course
